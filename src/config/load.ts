// Reads a YAML config file into a validated Config.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { YAMLParseError, parse } from 'yaml';

import { ConfigError } from '../errors.js';
import { parseConfig } from './schema.js';
import type { Config } from './schema.js';

/** A config file parsed as YAML but not yet validated, so that callers can adjust it first. */
export interface ConfigDocument {
  /** The file as the user named it, for error messages. */
  file: string;
  /** The YAML document: anything but null (an empty file is refused). */
  raw: unknown;
  /** The file's folder, which relative paths inside it resolve against. */
  baseDir: string;
}

/** Loads and validates `file`; relative paths inside resolve against the file's folder. */
export async function loadConfig(file: string): Promise<Config> {
  return parseConfigDocument(await readConfigFile(file));
}

/** Reads `file` and parses its YAML; throws ConfigError naming the file (and line) on failure. */
export async function readConfigFile(file: string): Promise<ConfigDocument> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`config file not found: ${file}`);
    if (code === 'EISDIR') throw new ConfigError(`config file is a directory: ${file}`);
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parse(text, { prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const reason = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw new ConfigError(`${file}:${lineColumn(text, err.pos[0])}: YAML syntax error: ${reason}`);
    }
    throw err;
  }
  if (raw === null || raw === undefined) throw new ConfigError(`${file}: config file is empty`);
  return { file, raw, baseDir: dirname(path) };
}

/** Validates a document from readConfigFile; a ConfigError names the document's file. */
export function parseConfigDocument(document: ConfigDocument): Config {
  try {
    return parseConfig(document.raw, document.baseDir);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${document.file}: ${err.message}`);
    throw err;
  }
}

/** "line:column" (both from 1) of a character offset in `text`. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${line}:${column}`;
}
