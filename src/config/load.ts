// Reads a YAML config file into a validated Config.
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

import { ConfigError } from '../errors.js';
import { withOverrides } from './overrides.js';
import type { ConfigOverrides } from './overrides.js';
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

/** What loadConfigInWorker loads: a config file with the command line's flags, or settings given as an object. */
export type ConfigRequest = { file: string; overrides: ConfigOverrides } | { settings: unknown; baseDir: string };

/** The worker's answer: the config, or the message of the ConfigError it met. */
export type ConfigReply = { config: Config } | { configError: string };

/** Loads and validates `file`; relative paths inside resolve against the file's folder. */
export async function loadConfig(file: string): Promise<Config> {
  return parseConfigDocument(await readConfigFile(file));
}

/**
 * Loads and validates a config in a worker thread, whose heap goes when it exits: the YAML parser,
 * zod and the garbage of validating would otherwise stay resident in a launcher that never needs
 * them again.
 */
export function loadConfigInWorker(request: ConfigRequest): Promise<Config> {
  // Run from source under tsx, a worker thread could not load TypeScript: the config is read here.
  if (extname(import.meta.url) === '.ts') return loadConfigRequest(request);
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), { workerData: request });
    worker.once('message', (reply: ConfigReply) => {
      if ('config' in reply) resolvePromise(reply.config);
      else reject(new ConfigError(reply.configError));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the config worker exited (${code}) without a config`)));
  });
}

/** Loads and validates the config `request` names, in this thread. */
export async function loadConfigRequest(request: ConfigRequest): Promise<Config> {
  if (!('file' in request)) return parseConfig(request.settings, request.baseDir);
  const document = await readConfigFile(request.file);
  return parseConfigDocument({ ...document, raw: withOverrides(document.raw, request.overrides, request.file) });
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
  // Loaded here, not with the module: a handler importing the package reads no YAML.
  const { YAMLParseError, parse } = await import('yaml');
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
