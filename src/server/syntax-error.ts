// Where a handler module fails to compile: file, line and column, as a compiler reports them.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface SyntaxErrorLocation {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  message: string;
}

/** esbuild's report, as the TypeScript loader passes it on: `FILE:LINE:COL: ERROR: MESSAGE`, column 0-based. */
const TRANSFORM_FAILURE = /^Transform failed with \d+ errors?:\n(.+):(\d+):(\d+): ERROR: (.+)$/m;
/** V8's report of a script: `FILE:LINE`, the source line, a caret line under the fault, a blank, `SyntaxError: …`. */
const V8_REPORT = /^(.+):(\d+)\n.*\n( *)\^+\n\n(?:SyntaxError: )?(.+)$/m;

/**
 * Locates a syntax error raised while importing `file` (a path). esbuild and CommonJS say where;
 * an ES module's SyntaxError does not, so that file is checked again by `node --check`, once,
 * and only after the import has already failed.
 */
export function locateSyntaxError(error: unknown, file: string | undefined): SyntaxErrorLocation | undefined {
  if (!(error instanceof Error)) return undefined;
  const transform = TRANSFORM_FAILURE.exec(error.message);
  if (transform) {
    const [, path, line, column, message] = transform;
    return { file: path!, line: Number(line), column: Number(column) + 1, message: message! };
  }
  if (error.name !== 'SyntaxError') return undefined;
  const reported = fromV8Report(error.stack ?? '');
  if (reported !== undefined || file === undefined || !/\.[cm]?js$/.test(file)) return reported;
  const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  return fromV8Report(check.stderr ?? '');
}

function fromV8Report(text: string): SyntaxErrorLocation | undefined {
  const report = V8_REPORT.exec(text);
  if (!report) return undefined;
  const [, path, line, indent, message] = report;
  const file = path!.startsWith('file:') ? fileURLToPath(path!) : path!;
  return { file, line: Number(line), column: indent!.length + 1, message: message! };
}

/** `file:line:column: message`, then the line itself and a caret under the column, as compilers print them. */
export function formatSyntaxError(location: SyntaxErrorLocation): string {
  const heading = `${location.file}:${location.line}:${location.column}: ${location.message}`;
  const source = sourceLine(location.file, location.line);
  if (source === undefined) return heading;
  const gutter = `${location.line} | `;
  const caret = `${' '.repeat(gutter.length - 2)}| ${' '.repeat(location.column - 1)}^`;
  return `${heading}\n  ${gutter}${source}\n  ${caret}`;
}

function sourceLine(file: string, line: number): string | undefined {
  try {
    return readFileSync(file, 'utf8').split(/\r?\n/)[line - 1]?.replace(/\t/g, ' ');
  } catch {
    return undefined;
  }
}
