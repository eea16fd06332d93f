// A test client's SSH connection: a login, then a shell on a pty, as `ssh host` opens one.
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';

import type { Wire, WireSink } from './test-client.js';

/** Who logs in, and the terminal asked for. */
export interface SshLogin {
  username: string;
  /** Tried after 'none', by the password method and by keyboard-interactive. */
  password: string | undefined;
  terminalType: string;
  cols: number;
  rows: number;
  /** Variables sent by `env` requests before the shell, as `ssh -o SetEnv=NAME=value` sends them. */
  environment?: Record<string, string> | undefined;
}

/** The wire of an SSH client: a resized window is a window-change request. */
export interface SshWire extends Wire {
  resize(cols: number, rows: number): void;
}

/**
 * Connects and opens the shell, delivering its output (stderr too) to `sink`; `opened` rejects
 * with "ssh: <why>" when the login fails or the server disconnects first, saying why.
 */
export function openSsh(
  host: string,
  port: number,
  login: SshLogin,
  sink: WireSink,
): { wire: SshWire; opened: Promise<void> } {
  const client = new ssh2.Client();
  let shell: ClientChannel | undefined;
  let exitStatus: number | undefined;
  const opened = new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      reject(new Error(`ssh: ${err.message}`));
      client.end();
    };
    client.once('error', fail);
    // Dropped without a word (too many failed logins): the reason is the server's to log.
    client.once('close', () => fail(new Error('the server closed the connection before the session opened')));
    client.once('ready', () => {
      const window = { term: login.terminalType, cols: login.cols, rows: login.rows };
      client.shell(window, { env: login.environment ?? {} }, (err, channel) => {
        if (err !== undefined && err !== null) return fail(err);
        client.off('error', fail);
        shell = channel;
        channel.on('data', (data: Buffer) => sink.receive(data));
        channel.stderr.on('data', (data: Buffer) => sink.receive(data));
        channel.on('exit', (code: number | null) => (exitStatus = code ?? undefined));
        // The session is the connection's only use, as for the ssh command.
        channel.on('close', () => client.end());
        resolve();
      });
    });
  });
  // A reset after the test is done with the client is no failure of the test: 'close' reports the end.
  client.on('error', () => undefined);
  client.on('keyboard-interactive', (_name, _instructions, _language, prompts, answer) =>
    answer(prompts.map(() => login.password ?? '')),
  );
  client.once('close', () => sink.ended(exitStatus === undefined ? {} : { exitStatus }));
  client.connect({
    host,
    port,
    username: login.username,
    ...(login.password === undefined ? {} : { password: login.password, tryKeyboard: true }),
  });
  const wire: SshWire = {
    write: (data) => void shell?.write(data),
    end: () => void client.end(),
    destroy: () => void client.destroy(),
    resize: (cols, rows) => void shell?.setWindow(rows, cols, 0, 0),
  };
  return { wire, opened };
}
