// A default CommonJS project (npm init -y: no "type": "module") uses the package as a newcomer would.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { connectClient } from '../src/testing/index.js';
import { ROOT, ensureBuilt } from './support/build.js';

let project = '';
let launcher = '';
const children: ChildProcess[] = [];

const COMMONJS_HANDLER = `const { LineHandler } = require('chuk-protocol-server');
class Echo extends LineHandler {
  async onCommandSubmitted(command) {
    await this.sendLine(\`Echo from CommonJS: \${command}\`);
  }
}
module.exports = { Echo };
`;

before(async () => {
  ensureBuilt();
  project = await mkdtemp(join(tmpdir(), 'commonjs-project-'));
  // What npm install leaves for a dependency on this folder: a link in node_modules.
  await mkdir(join(project, 'node_modules'));
  await symlink(ROOT, join(project, 'node_modules', 'chuk-protocol-server'), 'dir');
  launcher = join(project, 'node_modules', 'chuk-protocol-server', 'dist', 'cli.js');
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'commonjs-project', version: '1.0.0', main: 'index.js' }),
    'handler.js': COMMONJS_HANDLER,
    'handler.cjs': COMMONJS_HANDLER,
    // Compiled to CommonJS, as the package around it says: its import becomes a require.
    'handler.ts': `import { LineHandler } from 'chuk-protocol-server';
export class Echo extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    await this.sendLine(\`Echo from TypeScript: \${command}\`);
  }
}
`,
    'broken.cjs': 'const settings = {;\nmodule.exports = { settings };\n',
    'broken.mjs':
      "import { LineHandler } from 'chuk-protocol-server';\nexport class Echo extends LineHandler {\n  x = (;\n}\n",
    'broken.ts': 'export class Echo {\n  greet(name: string {\n    return name;\n  }\n}\n',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(project, name), text);
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (project !== '') await rm(project, { recursive: true, force: true });
});

for (const [module, reply] of [
  ['handler.js', 'Echo from CommonJS: hi'],
  ['handler.cjs', 'Echo from CommonJS: hi'],
  ['handler.ts', 'Echo from TypeScript: hi'],
] as const) {
  test(`the launcher serves ${module} from a CommonJS project`, async () => {
    const port = await serveOnce(`./${module}:Echo`);
    const client = await connectClient('tcp', port);
    client.send('hi');
    await client.expect(reply);
    await client.close();
  });
}

test('require() and import() both reach the package and its testing helpers', () => {
  const script = `
const { serve, TelnetHandler } = require('chuk-protocol-server');
const { startTestServer } = require('chuk-protocol-server/testing');
import('chuk-protocol-server').then((esm) => {
  console.log(typeof serve, typeof startTestServer, esm.TelnetHandler === TelnetHandler);
});
`;
  const result = spawnSync(process.execPath, ['-e', script], { cwd: project, encoding: 'utf8' });
  assert.equal(result.stderr, '');
  assert.equal(result.stdout, 'function function true\n');
});

for (const [module, location, message, source, caret] of [
  ['broken.cjs', '1:19', "Unexpected token ';'", 'const settings = {;', '                  ^'],
  ['broken.mjs', '3:8', "Unexpected token ';'", '  x = (;', '       ^'],
  ['broken.ts', '2:22', 'Expected ")" but found "{"', '  greet(name: string {', '                     ^'],
] as const) {
  test(`a syntax error in ${module} names its file, line and column and shows the line`, () => {
    const result = spawnSync(process.execPath, [launcher, `./${module}:Echo`, '-p', '0'], {
      cwd: project,
      encoding: 'utf8',
    });
    assert.equal(result.status, 2);
    const line = location.split(':')[0]!;
    assert.equal(
      result.stderr,
      `server-launcher: handler_class: cannot load ./${module}: syntax error at ${join(project, module)}:${location}: ${message}\n` +
        `  ${line} | ${source}\n` +
        `  ${' '.repeat(line.length)} | ${caret}\n`,
    );
  });
}

/** Starts the launcher on a free port for one handler; it is killed after the tests. */
function serveOnce(handler: string): Promise<number> {
  const child = spawn(process.execPath, [launcher, handler, '--transport', 'tcp', '--host', '127.0.0.1', '-p', '0'], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolvePort, reject) => {
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
      const listening = /listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (listening) resolvePort(Number(listening[1]));
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', (code) => reject(new Error(`the launcher exited with ${code}:\n${output}`)));
  });
}
