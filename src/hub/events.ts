// The one stream of what happens to sessions: every transport publishes here, consumers subscribe.
import type { TransportName } from '../config/schema.js';

/** Why a session ended. */
export type SessionEndReason =
  /** The client closed its side (quit in the client, window closed, clean WebSocket close). */
  | 'client-closed'
  /** The connection broke (reset, a socket error). */
  | 'connection-lost'
  /** The peer stopped answering WebSocket pings. */
  | 'ping-timeout'
  | 'idle-timeout'
  /** The session reached max_session_time. */
  | 'session-time-limit'
  /** The handler ended it (endSession, processLine returned false, Ctrl-D). */
  | 'handler-ended'
  | 'handler-error'
  | 'server-shutdown'
  /** The client did not read its output, which passed the output cap. */
  | 'slow-consumer'
  /** The client sent a message larger than max_message_size. */
  | 'message-too-big'
  /** Closed from outside the session: an operator, another session, the application. */
  | 'kicked';

/** Why a connection was turned away before it became a session. */
export type RefusalReason =
  | 'capacity'
  | 'per-ip'
  | 'origin'
  | 'path'
  | 'shutdown'
  /** The address is not in allow_ips, or is in deny_ips. */
  | 'denied'
  /** The address opened more than max_connection_rate_per_ip connections in the last minute. */
  | 'rate'
  /** The address is banned for a while after ban_after refusals. */
  | 'banned'
  /** With proxy_protocol: not from a trusted proxy, or no valid PROXY header in time. */
  | 'proxy';

/** What is known of a session's terminal, as consumers need it. */
export interface TerminalSummary {
  type: string | undefined;
  cols: number | undefined;
  rows: number | undefined;
}

/** A session as the application lists it: plain data, so that it can cross processes. */
export interface SessionInfo {
  id: string;
  /** The process (or machine) that serves the session. */
  instance: string;
  /** The configured server's name, the key under `servers:`. */
  server: string;
  transport: TransportName;
  remoteAddress: string;
  remotePort: number;
  /** The trusted proxy the client came through, when it came through one. */
  proxyAddress?: string;
  secure: boolean;
  /** Epoch milliseconds. */
  startedAt: number;
  /** Epoch milliseconds of the last input. */
  lastInputAt: number;
  /** The user's name, once the handler or the transport set one. */
  user: string | undefined;
  terminal: TerminalSummary;
  bytesIn: number;
  bytesOut: number;
  /**
   * Epoch milliseconds when the connection dropped, while the session waits (resume_grace) for
   * its client to come back; absent while a client is connected.
   */
  detachedAt?: number;
}

/** Everything the stream carries, by event type. */
export interface SessionEventMap {
  'session-started': { session: SessionInfo };
  'session-ended': { session: SessionInfo; reason: SessionEndReason };
  /** The connection dropped and the session waits resume_grace seconds for its client; `reason` says how it dropped. */
  'session-detached': { sessionId: string; reason: SessionEndReason };
  /** A client came back to a waiting session (or took it over from a connection that had not dropped yet). */
  'session-resumed': { session: SessionInfo };
  /**
   * What the user typed: a completed line, or the keys of one read in character mode. Input
   * typed while the session hides it (a password) has `hidden: true` and no text.
   */
  input: { sessionId: string; kind: 'line' | 'keys'; hidden: boolean; text: string | undefined };
  /** Exactly the text the user's terminal was sent (echo and redraws included), newlines as CR LF. */
  output: { sessionId: string; text: string };
  /** The terminal's type or size changed. */
  terminal: { sessionId: string; terminal: TerminalSummary };
  /** The session's user name changed. */
  user: { sessionId: string; user: string | undefined };
  refused: { server: string; transport: TransportName; remoteAddress: string; reason: RefusalReason };
  /**
   * A telnet option was switched on or off (or refused by the client): `outcome` says which,
   * `enabled` whether it is on now.
   */
  option: { sessionId: string; option: string; side: 'local' | 'remote'; enabled: boolean; outcome: OptionOutcome };
}

/** What became of a telnet option: on, off after being on, or never on (the client refused it). */
export type OptionOutcome = 'enabled' | 'disabled' | 'refused';

export type SessionEventType = keyof SessionEventMap;
export type SessionEventListener<T extends SessionEventType> = (event: SessionEventMap[T]) => void;

/** Reports a consumer's exception; it never reaches the session that published. */
export type ConsumerErrorReporter = (error: unknown, type: SessionEventType) => void;

type ListenerTable = { [T in SessionEventType]: Array<SessionEventListener<T>> };

/**
 * A typed publish/subscribe stream. Publishers ask `has(type)` before building an event, so
 * a stream nobody listens to costs one property read per would-be event.
 */
export class SessionEvents {
  #listeners: ListenerTable = {
    'session-started': [],
    'session-ended': [],
    'session-detached': [],
    'session-resumed': [],
    input: [],
    output: [],
    terminal: [],
    user: [],
    refused: [],
    option: [],
  };
  #onConsumerError: ConsumerErrorReporter;

  constructor(onConsumerError: ConsumerErrorReporter = () => undefined) {
    this.#onConsumerError = onConsumerError;
  }

  /** Whether anyone listens to `type`. */
  has(type: SessionEventType): boolean {
    return this.#listenersOf(type).length > 0;
  }

  /** Calls `listener` for every event of `type`; returns the function that unsubscribes. */
  on<T extends SessionEventType>(type: T, listener: SessionEventListener<T>): () => void {
    // A fresh array per change: a publish in progress keeps iterating the list it started with.
    this.#listeners[type] = [...this.#listeners[type], listener] as ListenerTable[T];
    return () => {
      this.#listeners[type] = this.#listeners[type].filter((candidate) => candidate !== listener) as ListenerTable[T];
    };
  }

  /** Subscribes to several types at once; returns one function that unsubscribes them all. */
  subscribe(listeners: { [T in SessionEventType]?: SessionEventListener<T> }): () => void {
    const offs = (Object.keys(listeners) as SessionEventType[]).map((type) =>
      this.on(type, listeners[type] as SessionEventListener<typeof type>),
    );
    return () => {
      for (const off of offs) off();
    };
  }

  publish<T extends SessionEventType>(type: T, event: SessionEventMap[T]): void {
    for (const listener of this.#listenersOf(type)) {
      try {
        listener(event);
      } catch (err) {
        this.#report(err, type);
      }
    }
  }

  /**
   * The listeners of `type`, found by a switch rather than by `#listeners[type]`: inlined where
   * the type is a constant, as it is wherever an event is published, the switch comes down to one
   * field's read, where the keyed read, fed ten types, went megamorphic and cost a lookup in V8's
   * stub cache at every check (several a line).
   */
  #listenersOf<T extends SessionEventType>(type: T): ListenerTable[T] {
    const table: ListenerTable = this.#listeners;
    switch (type as SessionEventType) {
      case 'output':
        return table.output as ListenerTable[T];
      case 'input':
        return table.input as ListenerTable[T];
      case 'session-started':
        return table['session-started'] as ListenerTable[T];
      case 'session-ended':
        return table['session-ended'] as ListenerTable[T];
      case 'session-detached':
        return table['session-detached'] as ListenerTable[T];
      case 'session-resumed':
        return table['session-resumed'] as ListenerTable[T];
      case 'terminal':
        return table.terminal as ListenerTable[T];
      case 'user':
        return table.user as ListenerTable[T];
      case 'refused':
        return table.refused as ListenerTable[T];
      case 'option':
        return table.option as ListenerTable[T];
    }
  }

  #report(err: unknown, type: SessionEventType): void {
    try {
      this.#onConsumerError(err, type);
    } catch {
      // The reporter itself failed; the publisher must still not see it.
    }
  }
}
