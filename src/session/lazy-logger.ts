// A child logger made on its first line: most sessions never log one, and a pino child each costs memory.
import type { Level, Logger } from 'pino';

/** What a session and its protocol layer log through: a pino logger, or a LazyLogger standing in for one. */
export interface SessionLog {
  debug(fields: object | string, message?: string): void;
  info(fields: object | string, message?: string): void;
  warn(fields: object | string, message?: string): void;
  error(fields: object | string, message?: string): void;
}

/**
 * Logs as `parent.child({ [name]: value })` would. The child (and its bindings object) is made at
 * the first line logged at an enabled level, or when `logger` is asked for; until then the
 * parent's level decides.
 */
export class LazyLogger implements SessionLog {
  readonly #parent: Logger | LazyLogger;
  readonly #name: string;
  readonly #value: string;
  #logger: Logger | undefined;

  constructor(parent: Logger | LazyLogger, name: string, value: string) {
    this.#parent = parent;
    this.#name = name;
    this.#value = value;
  }

  /** The child logger, made now if no line has made it yet. */
  get logger(): Logger {
    if (this.#logger === undefined) {
      const parent = this.#parent instanceof LazyLogger ? this.#parent.logger : this.#parent;
      this.#logger = parent.child({ [this.#name]: this.#value });
    }
    return this.#logger;
  }

  isLevelEnabled(level: Level): boolean {
    return (this.#logger ?? this.#parent).isLevelEnabled(level);
  }

  debug(fields: object | string, message?: string): void {
    this.#log('debug', fields, message);
  }

  info(fields: object | string, message?: string): void {
    this.#log('info', fields, message);
  }

  warn(fields: object | string, message?: string): void {
    this.#log('warn', fields, message);
  }

  error(fields: object | string, message?: string): void {
    this.#log('error', fields, message);
  }

  #log(level: Level, fields: object | string, message: string | undefined): void {
    if (!this.isLevelEnabled(level)) return;
    // pino reads a second argument as a format argument when the first is the message.
    if (message === undefined) this.logger[level](fields);
    else this.logger[level](fields, message);
  }
}
