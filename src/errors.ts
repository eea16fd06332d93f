// Error classes of the package: each carries a stable `code` to test against.

/** Base of every error this package throws. */
export class ProtocolServerError extends Error {
  readonly code: string = 'ERR_PROTOCOL_SERVER';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A config file or value that cannot be used; the message names where and why. */
export class ConfigError extends ProtocolServerError {
  override readonly code: string = 'ERR_CONFIG';
}

/** A handler module or export that cannot be loaded or is not a handler class. */
export class HandlerLoadError extends ProtocolServerError {
  override readonly code: string = 'ERR_HANDLER_LOAD';
}

/** A server that cannot start: port in use, unreadable certificate, unbuilt transport. */
export class ServerStartError extends ProtocolServerError {
  override readonly code: string = 'ERR_SERVER_START';
}

/** A write or read on a session that has already ended. */
export class SessionClosedError extends ProtocolServerError {
  override readonly code: string = 'ERR_SESSION_CLOSED';

  constructor(message = 'Session is closed') {
    super(message);
  }
}

/** A readLine whose `timeoutMs` passed before the user entered a line. */
export class ReadLineTimeoutError extends ProtocolServerError {
  override readonly code: string = 'ERR_READLINE_TIMEOUT';

  constructor(readonly timeoutMs: number) {
    super(`No line was entered within ${timeoutMs} ms`);
  }
}
