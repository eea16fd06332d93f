// server-launcher init: a new project (a handler, a config for every transport, a test) in a folder.
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

import { ProtocolServerError } from '../errors.js';

/** Options of init. */
export interface ProjectOptions {
  /** Depend on this version range from the npm registry instead of this copy of the package. */
  registryVersion?: string;
}

/** A project that cannot be written: the folder is not empty, not writable, a file. */
export class ProjectError extends ProtocolServerError {
  override readonly code: string = 'ERR_PROJECT';
}

/** This copy of the package: the folder holding its package.json. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * Installed in some project's node_modules rather than a checkout: a file: path into it would
 * break when that project goes, so the new project gets a tarball of this copy instead.
 */
const IS_INSTALLED_COPY = PACKAGE_ROOT.split(sep).includes('node_modules');

/**
 * Writes a new project into `dir` (new or empty) and returns what to tell the user. Its
 * dependency is this copy of the package (a file: path to a checkout, or a tarball of an
 * installed copy) unless a registry range is given.
 * Throws ProjectError, saying why, when it cannot.
 */
export async function writeProject(dir: string, initOptions: ProjectOptions): Promise<string> {
  const target = resolve(dir);
  const range = initOptions.registryVersion?.trim();
  if (range === '') initFail('--registry-version needs a version range, e.g. ^0.1.0');
  const entries = await readdir(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    if (err.code === 'ENOTDIR') initFail(`${dir} is a file: init writes a new project into a new or empty folder`);
    return initFail(`cannot read ${dir}: ${err.message}`);
  });
  if (entries.length > 0) initFail(`${dir} is not empty: init writes a new project into a new or empty folder`);
  const tarball = range === undefined && IS_INSTALLED_COPY ? await tarballName() : undefined;
  const dependency = range ?? (tarball === undefined ? `file:${PACKAGE_ROOT}` : `file:${tarball}`);
  const files = projectFiles(packageName(target), dependency);
  try {
    await mkdir(join(target, 'test'), { recursive: true });
    if (tarball !== undefined) await packInto(target);
    // 'wx': a file that appeared meanwhile is never overwritten.
    for (const [name, text] of Object.entries(files)) await writeFile(join(target, name), text, { flag: 'wx' });
  } catch (err) {
    initFail(`cannot write the project into ${dir}: ${(err as Error).message}`);
  }
  return (
    `Created a chuk-protocol-server project in ${target}: ${[...Object.keys(files), ...(tarball === undefined ? [] : [tarball])].join(', ')}\n` +
    `It depends on chuk-protocol-server ${dependency}.\n\n` +
    `Next:\n` +
    `  cd ${dir}\n` +
    `  npm install\n` +
    `  npm start   # telnet 127.0.0.1 8023, nc 127.0.0.1 8024, http://127.0.0.1:8025/ and :8026/ in a browser\n` +
    `  npm test    # test/handler.test.mjs talks to the handler on every transport\n`
  );
}

async function tarballName(): Promise<string> {
  const manifest = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return `chuk-protocol-server-${manifest.version}.tgz`;
}

/** `npm pack` of this copy into the project; scripts skipped, since an installed copy is built already. */
async function packInto(target: string): Promise<void> {
  await promisify(execFile)('npm', ['pack', PACKAGE_ROOT, '--pack-destination', target, '--ignore-scripts'], {
    shell: process.platform === 'win32',
  });
}

function initFail(message: string): never {
  throw new ProjectError(message);
}

/** An npm package name made from the project's folder name. */
function packageName(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/^[._-]+/, '')
    .slice(0, 200);
  return name === '' ? 'chuk-app' : name;
}

/** The new project's files by path: what init writes. */
function projectFiles(name: string, dependency: string): Record<string, string> {
  const manifest = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=20' },
    scripts: { start: 'server-launcher -c config.yaml', test: 'node --test' },
    dependencies: { 'chuk-protocol-server': dependency },
  };
  return {
    'package.json': `${JSON.stringify(manifest, null, 2)}\n`,
    'handler.ts': projectHandler(),
    'config.yaml': projectConfig(),
    'test/handler.test.mjs': projectTest(),
    'README.md': projectReadme(name),
    '.gitignore': 'node_modules/\n',
  };
}

/** Function declarations, not constants: init runs from the top-level code above them. */
function projectHandler(): string {
  return `// The handler: one instance per connection, whichever transport it came in through.
import { TelnetHandler } from 'chuk-protocol-server';

export class GreeterHandler extends TelnetHandler {
  name = 'stranger';

  // Runs when someone connects: the welcome_message of config.yaml, then a question in the flow.
  override async onConnect(): Promise<void> {
    await this.sendWelcome();
    this.name = (await this.readLine('What is your name? ')).trim() || this.name;
    this.session.user = this.name; // shown in session listings
    await this.sendLine(\`Hello, \${this.name}! Type anything and it comes back; quit to leave.\`);
    await this.showPrompt();
  }

  // Every line but quit, exit and q, which end the session with "Goodbye!".
  override async onCommandSubmitted(command: string): Promise<void> {
    await this.sendLine(\`Echo: \${command}\`);
  }
}
`;
}

function projectConfig(): string {
  return `# yaml-language-server: $schema=node_modules/chuk-protocol-server/config.schema.json
# One handler on every transport: npm start (server-launcher -c config.yaml). Then:
#   telnet 127.0.0.1 8023     a full terminal: echo, line editing, window size
#   nc 127.0.0.1 8024         plain lines
#   http://127.0.0.1:8025/    the browser terminal (text over WebSocket: websocat ws://127.0.0.1:8025/ws)
#   http://127.0.0.1:8026/    the browser terminal (telnet over WebSocket)
# host: 0.0.0.0 lets other machines in.
servers:
  telnet:
    transport: telnet
    host: 127.0.0.1
    port: 8023
    handler_class: ./handler.ts:GreeterHandler
    welcome_message: Welcome!

  tcp:
    transport: tcp
    host: 127.0.0.1
    port: 8024
    handler_class: ./handler.ts:GreeterHandler
    welcome_message: Welcome!

  websocket:
    transport: websocket
    host: 127.0.0.1
    port: 8025
    ws_path: /ws
    handler_class: ./handler.ts:GreeterHandler
    welcome_message: Welcome!
    web_client: true

  ws_telnet:
    transport: ws_telnet
    host: 127.0.0.1
    port: 8026
    ws_path: /ws_telnet
    handler_class: ./handler.ts:GreeterHandler
    welcome_message: Welcome!
    web_client: true
`;
}

function projectTest(): string {
  return `// The handler on every transport of config.yaml, as its users reach it: npm test.
// startTestConfig serves the file on 127.0.0.1 and free ports, so a running npm start is no obstacle.
import { after, before, test } from 'node:test';

import { startTestConfig } from 'chuk-protocol-server/testing';

let server;
before(async () => {
  server = await startTestConfig(new URL('../config.yaml', import.meta.url));
});
after(() => server?.stop());

for (const transport of ['telnet', 'tcp', 'websocket', 'ws_telnet']) {
  test(\`\${transport}: asks a name, greets it, echoes lines and says goodbye\`, async () => {
    const client = await server.connect(transport);
    await client.expect('What is your name? ');
    client.send('Ada');
    await client.expect('Hello, Ada!');
    client.send('hello there');
    await client.expect('Echo: hello there');
    client.send('quit');
    await client.expect('Goodbye!');
    await client.closed;
  });
}
`;
}

function projectReadme(name: string): string {
  return `# ${name}

One handler, \`handler.ts\`, served at once over telnet, TCP, WebSocket and telnet over WebSocket
(\`config.yaml\`) by chuk-protocol-server.

\`\`\`bash
npm install
npm start   # telnet 127.0.0.1 8023, nc 127.0.0.1 8024, http://127.0.0.1:8025/ and :8026/ in a browser
npm test    # test/handler.test.mjs talks to the handler on every transport
\`\`\`

The launcher loads \`handler.ts\` itself, so the project needs no TypeScript compiler and no build step.
`;
}
