// server-launcher init for real: it writes a project that installs, passes its own tests and starts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { parseConfigDocument, readConfigFile } from '../src/index.js';
import { connectClient } from '../src/testing/index.js';
import { CLI, ROOT, ensureBuilt } from './support/build.js';

const SCHEMA_LINE = '# yaml-language-server: $schema=node_modules/chuk-protocol-server/config.schema.json';
const PROJECT_FILES = ['.gitignore', 'README.md', 'config.yaml', 'handler.ts', 'package.json', 'test'];

let dir = '';
let app = '';
const children: ChildProcess[] = [];

before(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'server-launcher-init-'));
  app = join(dir, 'app');
});

after(async () => {
  for (const child of children) killGroup(child, 'SIGKILL');
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

test('init writes a project that depends on this copy of the package', async () => {
  const result = await run(process.execPath, [CLI, 'init', app], dir);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  assert.match(result.stdout, /npm install\n {2}npm start .*\n {2}npm test /);
  assert.deepEqual(readdirSync(app).sort(), PROJECT_FILES);
  assert.deepEqual(readdirSync(join(app, 'test')), ['handler.test.mjs']);

  const manifest = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(manifest.name, 'app');
  assert.equal(manifest.type, 'module');
  assert.deepEqual(manifest.scripts, { start: 'server-launcher -c config.yaml', test: 'node --test' });
  assert.deepEqual(manifest.dependencies, { 'chuk-protocol-server': `file:${ROOT}` });

  const configText = await readFile(join(app, 'config.yaml'), 'utf8');
  assert.equal(configText.split('\n')[0], SCHEMA_LINE);
  const config = parseConfigDocument(await readConfigFile(join(app, 'config.yaml')));
  assert.deepEqual(
    config.servers.map((server) => [server.name, server.transport, server.webClient, server.handlerClass]),
    [
      ['telnet', 'telnet', false, './handler.ts:GreeterHandler'],
      ['tcp', 'tcp', false, './handler.ts:GreeterHandler'],
      ['websocket', 'websocket', true, './handler.ts:GreeterHandler'],
      ['ws_telnet', 'ws_telnet', true, './handler.ts:GreeterHandler'],
    ],
  );
  assert.match(await readFile(join(app, 'handler.ts'), 'utf8'), /extends TelnetHandler[\s\S]*this\.readLine\(/);
  assert.match(await readFile(join(app, 'README.md'), 'utf8'), /no TypeScript compiler/);
  assert.match(await readFile(join(app, 'test', 'handler.test.mjs'), 'utf8'), /from 'chuk-protocol-server\/testing'/);
  assert.equal(await readFile(join(app, '.gitignore'), 'utf8'), 'node_modules/\n');
});

test('init refuses a folder that is not empty: one line, exit code 2, nothing written', async () => {
  const original = await readFile(join(app, 'package.json'), 'utf8');
  const result = await run(process.execPath, [CLI, 'init', app], dir);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.equal(
    result.stderr,
    `server-launcher: init: ${app} is not empty: init writes a new project into a new or empty folder\n`,
  );
  assert.equal(await readFile(join(app, 'package.json'), 'utf8'), original);
});

test('--registry-version names a registry range instead of this copy', async () => {
  const published = join(dir, 'published');
  const result = await run(process.execPath, [CLI, 'init', published, '--registry-version', '^0.1.0'], dir);
  assert.equal(result.code, 0, result.stderr);
  const manifest = JSON.parse(await readFile(join(published, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(manifest.dependencies, { 'chuk-protocol-server': '^0.1.0' });
});

test(
  'init from an installed copy packs that copy into the project, which installs from it offline',
  { timeout: 120_000 },
  async () => {
    const host = join(dir, 'host');
    await mkdir(host);
    await writeFile(join(host, 'package.json'), JSON.stringify({ name: 'host', version: '1.0.0' }));
    const pack = await run('npm', ['pack', ROOT, '--pack-destination', host, '--ignore-scripts'], host, 60_000);
    assert.equal(pack.code, 0, pack.stderr);
    const tarball = pack.stdout.trim().split('\n').at(-1)!;
    // The copy's own dependencies come from the npm cache, or the registry where the cache has not
    // seen them (npm ci fetches by the lockfile and caches no package metadata). The new project's
    // install below is the offline one.
    const hostInstall = await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball],
      host,
      60_000,
    );
    assert.equal(hostInstall.code, 0, hostInstall.stderr);

    const fromInstalled = join(dir, 'from-installed');
    const launcher = join(host, 'node_modules', 'chuk-protocol-server', 'dist', 'cli.js');
    const result = await run(process.execPath, [launcher, 'init', fromInstalled], dir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(`It depends on chuk-protocol-server file:${tarball.replace(/\./g, '\\.')}\\.`),
    );
    const manifest = JSON.parse(await readFile(join(fromInstalled, 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(manifest.dependencies, { 'chuk-protocol-server': `file:${tarball}` });
    assert.ok(readdirSync(fromInstalled).includes(tarball));

    // The host project can go: the new one needs nothing of it.
    await rm(host, { recursive: true });
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--offline'], fromInstalled, 60_000);
    assert.equal(install.code, 0, `npm install:\n${install.stdout}${install.stderr}`);
    const version = await run(process.execPath, [join('node_modules', '.bin', 'server-launcher'), '-V'], fromInstalled);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  },
);

test(
  'the project installs, passes its own npm test, and npm start serves every transport',
  { timeout: 300_000 },
  async () => {
    // Offline: the only dependency is this folder. Scripts are skipped because the linked folder's
    // "prepare" would rebuild this repository's dist/ under the other test files running beside this one.
    const install = await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--offline', '--ignore-scripts'],
      app,
      180_000,
    );
    assert.equal(install.code, 0, `npm install:\n${install.stdout}${install.stderr}`);
    assert.equal(realpathSync(join(app, 'node_modules', 'chuk-protocol-server')), realpathSync(ROOT));

    const tested = await run('npm', ['test'], app, 120_000);
    assert.equal(tested.code, 0, `npm test:\n${tested.stdout}${tested.stderr}`);
    assert.match(tested.stdout, /# pass 4\n# fail 0\n/);

    // Free ports, so that a server already on 8023-8026 cannot fail the start.
    const config = join(app, 'config.yaml');
    await writeFile(config, (await readFile(config, 'utf8')).replace(/^( {4}port:) \d+$/gm, '$1 0'));
    const child = spawn('npm', ['start'], {
      cwd: app,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    children.push(child);
    const exited = new Promise<number | NodeJS.Signals | null>((resolveExit) =>
      child.once('exit', (code, signal) => resolveExit(code ?? signal)),
    );
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ports = await new Promise<Map<string, number>>((resolvePorts, reject) => {
      const found = new Map<string, number>();
      const timer = setTimeout(() => reject(new Error(`not listening after 30 s:\n${stdout}${stderr}`)), 30_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        for (const match of stdout.matchAll(/^(\S+): \S+ server listening on \w+:\/\/127\.0\.0\.1:(\d+)/gm)) {
          found.set(match[1]!, Number(match[2]));
        }
        if (found.size === 4) {
          clearTimeout(timer);
          resolvePorts(found);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited with ${code}:\n${stdout}${stderr}`));
      });
    });
    assert.deepEqual([...ports.keys()], ['telnet', 'tcp', 'websocket', 'ws_telnet']);
    assert.match(
      stdout,
      /websocket: websocket server listening on ws:\/\/\S+\/ws \(browser terminal: http:\/\/\S+\/\)/,
    );

    const client = await connectClient('tcp', ports.get('tcp')!);
    await client.expect('Welcome!\r\nWhat is your name? ');
    await client.close();

    killGroup(child, 'SIGINT');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    // npm ends itself with the signal once the launcher has shut down and exited 0.
    assert.ok([0, 'SIGINT'].includes(code!), `npm start ended with ${code}:\n${stdout}${stderr}`);
    assert.match(stdout, /SIGINT: shutting down/);
  },
);

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in its own process group, killed with the group after `timeoutMs`. */
function run(command: string, args: string[], cwd: string, timeoutMs = 15_000): Promise<Finished> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} took over ${timeoutMs} ms:\n${stdout}${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/**
 * This process's environment without what would make the new project's npm and node act for
 * this repository: npm's settings from an enclosing `npm test`, and node:test's child marker.
 */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE_TEST_CONTEXT'),
  );
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}
