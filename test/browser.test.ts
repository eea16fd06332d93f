// The browser terminal (web/) in headless Chromium against real websocket and ws_telnet servers on 127.0.0.1.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { Browser, Page } from 'playwright-core';

import { LineHandler, ProtocolServer, TelnetHandler, loadConfig, parseConfig } from '../src/index.js';
import type { HandlerClass } from '../src/index.js';
import {
  WAIT,
  launchChromium,
  screenLines,
  skipWithoutChromium,
  terminalSize,
  waitForScreen,
  waitForStatus,
} from './support/browser.js';
import type { PageGlobals } from './support/browser.js';
import { ensureBuilt } from './support/build.js';
import { connect } from './support/clients.js';
import { LoginHandler } from './support/handlers.js';
import { until } from './support/received-text.js';
import { quiet, startLaunch, startServer } from './support/servers.js';
import { TcpProxy } from './support/tcp-proxy.js';

class EchoHandler extends TelnetHandler {
  override async sendWelcome(): Promise<void> {
    await this.sendLine('Welcome to the Echo Server!');
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'info') for (const line of this.describeTerminal()) await this.sendLine(line);
    else await this.sendLine(`Echo: ${command}`);
  }
}

/** A line handler: on ws_telnet it leaves echo and editing to the client, as telnet line mode does. */
class LineEchoHandler extends LineHandler {
  override async sendWelcome(): Promise<void> {
    await this.sendLine('Welcome to the Echo Server!');
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    await this.sendLine(`Echo: ${command}`);
  }
}

const SERVERS = {
  websocket: { transport: 'websocket', handler: EchoHandler },
  ws_telnet: { transport: 'ws_telnet', handler: EchoHandler },
  ws_telnet_line: { transport: 'ws_telnet', handler: LineEchoHandler },
} as const satisfies Record<string, { transport: string; handler: HandlerClass }>;

describe('browser terminal', { skip: skipWithoutChromium }, () => {
  let browser: Browser;
  const servers: ProtocolServer[] = [];
  const ports: Record<keyof typeof SERVERS, number> = { websocket: 0, ws_telnet: 0, ws_telnet_line: 0 };

  before(async () => {
    for (const [name, { transport, handler }] of Object.entries(SERVERS)) {
      const config = parseConfig(
        { servers: { [name]: { transport, host: '127.0.0.1', port: 0, web_client: true, handler_class: 'x:Y' } } },
        process.cwd(),
      );
      const server = new ProtocolServer(config.servers[0]!, handler);
      servers.push(server);
      ports[name as keyof typeof SERVERS] = (await server.start()).port;
    }
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await Promise.all(servers.map((server) => server.stop(100)));
  });

  /** Opens the terminal page of a transport; `urls` collects every request it makes. */
  async function open(transport: keyof typeof ports, query = ''): Promise<{ page: Page; urls: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    const urls: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    page.on('websocket', (socket) => urls.push(socket.url()));
    await page.goto(`http://127.0.0.1:${ports[transport]}/${query}`);
    await waitForScreen(page, 'Welcome to the Echo Server!');
    return { page, urls };
  }

  test('text mode: the page edits the line locally and sends it in one message', async () => {
    const { page } = await open('websocket');
    await page.keyboard.type('hellx');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('o');
    await page.keyboard.press('Enter');
    await waitForScreen(page, 'Echo: hello');
    await page.keyboard.type('日本');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Enter');
    await waitForScreen(page, 'Echo: 日');
    // 日 does not fit in the last column and wraps; erasing it must step back over the wrap.
    const cols = await page.evaluate(() => (globalThis as unknown as PageGlobals).term.cols);
    const xs = 'x'.repeat(cols - 3);
    await page.keyboard.type(`${xs}日本`);
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('yz\r');
    // The server's answer wraps too: its second row is the only place "xxxyz" appears.
    await waitForScreen(page, 'xxxyz');
    const lines = await screenLines(page);
    const screen = lines.join('\n');
    assert.ok(lines.includes('> hello'), `typed line echoed once locally:\n${screen}`);
    assert.ok(lines.includes('> 日'), `wide character erased by one Backspace:\n${screen}`);
    assert.ok(screen.includes(`> ${xs}y\nz\n`), `wrapped line erased and retyped:\n${screen}`);
    await page.screenshot({ path: '/tmp/term-text.png' });
    await page.close();
  });

  test('telnet mode: typed characters appear once, echoed by the server', async () => {
    const { page } = await open('ws_telnet');
    await page.keyboard.type('hello');
    await page.keyboard.press('Enter');
    await waitForScreen(page, 'Echo: hello');
    const lines = await screenLines(page);
    const typed = lines.filter((line) => line.includes('hello') && !line.startsWith('Echo:'));
    assert.deepEqual(
      typed.map((line) => line.replace(/^> /, '')),
      ['hello'],
      lines.join('\n'),
    );
    await page.screenshot({ path: '/tmp/term-telnet.png' });
    await page.close();
  });

  test('telnet mode with a server that does not echo: the page edits the line and sends CR LF', async () => {
    const { page } = await open('ws_telnet_line');
    await page.keyboard.type('hellx');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('o\r');
    await waitForScreen(page, 'Echo: hello');
    const lines = await screenLines(page);
    assert.equal(
      lines.filter((line) => line.endsWith('hello') && !line.startsWith('Echo:')).length,
      1,
      lines.join('\n'),
    );
    await page.close();
  });

  test('telnet mode: the window size follows the viewport (NAWS)', async () => {
    const { page } = await open('ws_telnet');
    const before = await terminalSize(page);
    await page.keyboard.type('info\r');
    await waitForScreen(page, `Window size: ${before}`);
    await page.setViewportSize({ width: 700, height: 420 });
    await page.waitForFunction(
      (old) => {
        const { term } = globalThis as unknown as PageGlobals;
        return `${term.cols}x${term.rows}` !== old;
      },
      before,
      WAIT,
    );
    const after = await terminalSize(page);
    await page.keyboard.type('info\r');
    await waitForScreen(page, `Window size: ${after}`);
    await page.close();
  });

  test('the page loads nothing from outside its own server', async () => {
    for (const transport of ['websocket', 'ws_telnet'] as const) {
      const { page, urls } = await open(transport, '?token=abc');
      const origin = `127.0.0.1:${ports[transport]}`;
      const path = transport === 'ws_telnet' ? '/ws_telnet' : '/ws';
      assert.ok(urls.includes(`ws://${origin}${path}?token=abc`), urls.join('\n'));
      for (const url of urls) assert.equal(new URL(url).host, origin, url);
      await page.close();
    }
  });

  test('after the server ends the session the page shows it, and Reconnect or Enter reconnects', async () => {
    for (const transport of ['websocket', 'ws_telnet'] as const) {
      const { page } = await open(transport);
      await page.keyboard.type('quit\r');
      await page.waitForFunction(
        () => {
          const { document } = globalThis as unknown as PageGlobals;
          return document.getElementById('status')?.dataset['state'] === 'disconnected';
        },
        undefined,
        WAIT,
      );
      assert.equal(await page.textContent('#status'), 'The server ended the session');
      // The button on one, Enter in the terminal on the other: both reconnect.
      if (transport === 'websocket') await page.click('#reconnect');
      else await page.keyboard.press('Enter');
      await page.waitForFunction(
        () => {
          const { document } = globalThis as unknown as PageGlobals;
          return document.getElementById('status')?.dataset['state'] === 'connected';
        },
        undefined,
        WAIT,
      );
      assert.equal(await page.isHidden('#reconnect'), true);
      await page.keyboard.type('again\r');
      await waitForScreen(page, 'Echo: again');
      await page.close();
    }
  });

  test('the README greeter: a telnet user and a browser user log in, see each other in who, and chat', async () => {
    const config = parseConfig(
      {
        servers: {
          telnet: { transport: 'telnet', host: '127.0.0.1', port: 0, handler_class: './greeter.ts:Greeter' },
          web: {
            transport: 'websocket',
            host: '127.0.0.1',
            port: 0,
            web_client: true,
            handler_class: './greeter.ts:Greeter',
          },
        },
      },
      join(import.meta.dirname, '..', 'examples', 'greeter'),
    );
    const launch = await startLaunch(config, { logger: quiet });
    const [telnetServer, webServer] = launch.servers;
    const ada = await connect('telnet', telnetServer!.address!.port, { telnet: 'terminal' });
    await ada.waitFor('Your name? ');
    ada.send('Ada');
    await ada.waitFor('Password? ');
    ada.send('secret');
    await ada.waitFor('Welcome, Ada!');

    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    await page.goto(`http://127.0.0.1:${webServer!.address!.port}/`);
    await waitForScreen(page, 'Your name?');
    await page.keyboard.type('Bob');
    await page.keyboard.press('Enter');
    await waitForScreen(page, 'Password?');
    await page.keyboard.type('hunter2');
    await page.keyboard.press('Enter');
    await waitForScreen(page, 'Welcome, Bob!');
    await page.keyboard.type('who');
    await page.keyboard.press('Enter');
    await waitForScreen(page, 'Online (2): Ada (telnet), Bob (websocket)');
    await page.keyboard.type('say hello from the browser');
    await page.keyboard.press('Enter');
    await ada.waitFor('Bob: hello from the browser');
    ada.send('say hello from telnet');
    await waitForScreen(page, 'Ada: hello from telnet');
    await page.close();
  });

  test('the telnet parser keeps sequences cut between frames and answers each request once', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${ports.ws_telnet}/`);
    const result = await page.evaluate(async () => {
      const { TelnetClient } = (await import('/assets/terminal.js' as string)) as {
        TelnetClient: new () => {
          receive(chunk: Uint8Array): { data: Uint8Array; reply: Uint8Array };
          resize(cols: number, rows: number): Uint8Array | undefined;
        };
      };
      const client = new TelnetClient();
      client.resize(255, 40);
      // WILL ECHO, DO NAWS, data "a" IAC IAC "b", SB TTYPE SEND, DO TTYPE first: cut at every byte.
      const stream = [255, 253, 24, 255, 251, 1, 255, 253, 31, 97, 255, 255, 98, 255, 250, 24, 1, 255, 240];
      const data: number[] = [];
      const reply: number[] = [];
      for (const byte of [...stream, 255, 251, 1, 255, 253, 31, 255, 253, 39, 255, 253, 39]) {
        const out = client.receive(Uint8Array.of(byte));
        data.push(...out.data);
        reply.push(...out.reply);
      }
      return { data, reply };
    });
    assert.deepEqual(result.data, [97, 255, 98]);
    const ttype = [...Buffer.from('XTERM-256COLOR')];
    assert.deepEqual(result.reply, [
      ...[255, 251, 24],
      ...[255, 253, 1],
      ...[255, 251, 31, 255, 250, 31, 0, 255, 255, 0, 40, 255, 240],
      ...[255, 250, 24, 0, ...ttype, 255, 240],
      ...[255, 252, 39],
    ]);
    await page.close();
  });

  test('text mode: a hidden answer shows nothing on screen, and info reports the window size', async () => {
    class LoginEcho extends LoginHandler {
      override async onCommandSubmitted(command: string): Promise<void> {
        if (command === 'info') await this.sendLine(`Window size: ${this.terminal.cols}x${this.terminal.rows}`);
        else await super.onCommandSubmitted(command);
      }
    }
    const { port } = await startServer('websocket', LoginEcho, { web_client: true, host: '127.0.0.1' });
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await waitForScreen(page, 'Name? ');
    await page.keyboard.type('Ada\r');
    await waitForScreen(page, 'Password? ');
    await page.keyboard.type('sesame');
    await page.keyboard.press('Enter');
    await waitForScreen(page, 'your password has 6 characters');
    await page.keyboard.type('info\r');
    await waitForScreen(page, `Window size: ${await terminalSize(page)}`);
    // Typing is shown again once the hidden question is answered.
    await page.keyboard.type('visible\r');
    await waitForScreen(page, 'Echo: visible');
    const lines = await screenLines(page);
    const screen = lines.join('\n');
    assert.ok(!screen.includes('sesame'), screen);
    assert.ok(
      lines.some((line) => line.trimEnd() === 'Password?'),
      `the answer left no trace on its line:\n${screen}`,
    );
    assert.ok(lines.includes('> visible'), screen);
    await page.close();
  });

  test('resume: a game half played survives a cut connection; the page comes back and shows what it missed', async (t) => {
    // The sample imports the package by name, which is dist/: onResume must be there.
    ensureBuilt();
    const config = await loadConfig(join(import.meta.dirname, '..', 'examples', 'guess-who', 'config.yaml'));
    config.servers = config.servers.filter((server) => server.transport.startsWith('w'));
    for (const server of config.servers) Object.assign(server, { host: '127.0.0.1', port: 0, resumeGrace: 30 });
    const launch = await startLaunch(config, { logger: quiet });
    // Text mode on websocket, telnet mode on ws_telnet: both come back.
    for (const server of launch.servers) {
      const proxy = await TcpProxy.start(server.address!.port);
      t.after(() => proxy.close());
      const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
      const sockets: string[] = [];
      page.on('websocket', (socket) => sockets.push(socket.url()));
      await page.goto(`http://127.0.0.1:${proxy.port}/`);
      await waitForScreen(page, "Type 'start' to play");
      for (const line of ['start', 'is it a man?', 'do they have glasses?']) await page.keyboard.type(`${line}\r`);
      await waitForScreen(page, '8 of 10 questions left');

      const detached = new Promise((resolve) => server.hub.events.on('session-detached', resolve));
      proxy.cut();
      await detached;
      await server.sendGlobalMessage(`${server.transport} wrote this while you were away`);
      await waitForStatus(page, /^Reconnecting in \d s…$/);
      await waitForScreen(page, `${server.transport} wrote this while you were away`);
      await waitForStatus(page, 'Connected');
      // The same game: the third question leaves 7, and the game was never started again.
      await page.keyboard.type('are they bald?\r');
      await waitForScreen(page, '7 of 10 questions left');
      const screen = (await screenLines(page)).join('\n');
      assert.equal(screen.split("Type 'start' to play").length, 2, `${server.transport}: one welcome only:\n${screen}`);
      assert.ok(!screen.includes('could not be resumed'), screen);

      // The token the page came back with is used up: another page that presents it gets a game of its own.
      const used = new URL(sockets.at(-1)!).searchParams.get('resume');
      assert.match(used ?? '', /^[\w-]{22}$/, sockets.join('\n'));
      const other = await browser.newPage({ viewport: { width: 1000, height: 640 } });
      await other.goto(`http://127.0.0.1:${proxy.port}/?resume=${used}`);
      await waitForScreen(other, "Type 'start' to play");
      await other.keyboard.type('is it a man?\r');
      await waitForScreen(other, 'No game in play');
      await other.close();
      await page.close();
    }
  });

  test('resume: a session whose grace period runs out gets onDisconnect once, and the page says the connection was lost', async (t) => {
    let disconnects = 0;
    class Counting extends EchoHandler {
      override async onDisconnect(): Promise<void> {
        disconnects++;
      }
    }
    const { port } = await startServer('websocket', Counting, {
      web_client: true,
      host: '127.0.0.1',
      resume_grace: 1.5,
    });
    const proxy = await TcpProxy.start(port);
    t.after(() => proxy.close());
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    await waitForScreen(page, 'Welcome to the Echo Server!');
    proxy.isRefusing = true;
    proxy.cut();
    await waitForStatus(page, /^Reconnecting in \d s…$/);
    await waitForStatus(page, 'The connection was lost');
    // The page gives up when it reckons the server has; the server's clock started a moment later.
    await until(() => disconnects === 1, 'onDisconnect');
    await waitForScreen(page, '[Disconnected — press Enter or click Reconnect]');
    proxy.isRefusing = false;
    await page.keyboard.press('Enter');
    await waitForStatus(page, 'Connected');
    await page.keyboard.type('again\r');
    await waitForScreen(page, 'Echo: again');
    assert.equal(disconnects, 1);
    await page.close();
  });
});
