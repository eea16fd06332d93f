// The session hub: one application's sessions, broadcast and admission counts, across all its servers.
import { hostname } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';

import type { Logger } from 'pino';

import { ChurnMap } from '../churn-map.js';
import type { TransportName } from '../config/schema.js';
import { canonicalAddress } from '../transports/address.js';
import { SessionEvents } from './events.js';
import type { SessionInfo } from './events.js';
import { OptionCounts } from './option-counts.js';
import { sessionCount } from './session-count.js';
import { newSessionId } from './session-id.js';

/** Which sessions a broadcast or a listing is for; every field given must match. */
export interface SessionFilter {
  /** Configured server name(s), the keys under `servers:`. */
  server?: string | readonly string[];
  transport?: TransportName | readonly TransportName[];
  /** Session id(s) to leave out, e.g. the sender's own. */
  except?: string | readonly string[];
}

/** What the hub needs of a session served by this process. */
export interface HubMember {
  readonly id: string;
  readonly remoteAddress: string;
  info(): SessionInfo;
  /** Writes asynchronous output: it starts on its own line, and the prompt is redrawn after it. */
  notify(text: string): Promise<void>;
  /** Ends the session from outside it. */
  kick(message?: string): Promise<void>;
}

/**
 * The application as a handler sees it: every session of every server of the launch (and,
 * with a shared hub, of every process), broadcast and messages by session id.
 */
export interface Application {
  /** Names this process in session listings. */
  readonly instance: string;
  /** The event stream of every session of the application served by this process. */
  readonly events: SessionEvents;
  /** How many sessions this process serves now (cheap; `list()` counts the whole application). */
  readonly localCount: number;
  /** Every session of the application, optionally filtered. */
  list(filter?: SessionFilter): Promise<SessionInfo[]>;
  get(id: string): Promise<SessionInfo | undefined>;
  /** Sends `text` as a line to every matching session; resolves with how many were sent to. */
  broadcast(text: string, filter?: SessionFilter): Promise<number>;
  /** Sends `text` as a line to one session; resolves false when there is no such session. */
  send(id: string, text: string): Promise<boolean>;
  /** Ends a session, telling its user `message`; resolves false when there is no such session. */
  kick(id: string, message?: string): Promise<boolean>;
  /**
   * Sessions served by other instances: their start, end, terminal and user changes (the event
   * types `session-started`, `session-ended`, `terminal` and `user` only). Silent on a hub of one process.
   */
  readonly peers: SessionEvents;
  /**
   * Streams the output and input of a session served by another instance to `sink` until the
   * watch is stopped, and resolves with its screen as of the start of the stream; undefined
   * when no other instance serves such a session (or it cannot be reached).
   */
  watch(id: string, sink: (event: WatchedEvent) => void): Promise<RemoteWatch | undefined>;
}

/** The screen of a session as the instance serving it sees it. */
export interface RemoteScreen {
  /** ANSI text of the screen and a little scrollback. */
  text: string;
  cols: number;
  rows: number;
}

/** Traffic of a watched session of another instance, numbered from 1 in the order it happened. */
export type WatchedEvent = { seq: number } & (
  { type: 'output'; text: string } | { type: 'input'; kind: 'line' | 'keys'; hidden: boolean; text: string | undefined }
);

/** A session of another instance being watched from this one. */
export interface RemoteWatch {
  /** Its screen, or undefined when its instance keeps none (no monitor there). */
  screen: RemoteScreen | undefined;
  /** The last event the screen reflects: events numbered up to it come before the screen, not after. */
  seq: number;
  /** Stops the stream to this sink; idempotent. */
  stop(): void;
}

/** Where a hub finds the screens of its own sessions when other instances watch them: the monitor. */
export interface ScreenSource {
  /** The screen of `id` as of now, kept up to date from now until `release(id)`; undefined when unknown. */
  screen(id: string): Promise<RemoteScreen | undefined>;
  /** No other instance watches `id` any more. */
  release(id: string): void;
}

/** How the hub is connected to the other instances, for logs, metrics and /readyz. */
export interface HubSharing {
  /** What connects the instances ("redis", "ipc"). */
  readonly via: string;
  /** Whether the other instances can be reached now; false means cross-instance features are degraded. */
  readonly isUp: boolean;
  /** Other instances heard from recently. */
  readonly instances: number;
  /** Messages to other instances dropped since start because they could not be reached. */
  readonly dropped: number;
}

/** The hub as servers use it: the application plus membership and admission counts. */
export interface SessionHub extends Application {
  add(member: HubMember): void;
  remove(member: HubMember): void;
  /** Telnet option negotiations of this process's sessions, whether or not anyone subscribes to `option` events. */
  readonly telnetOptions: OptionCounts;
  /** Sessions from `address` across the application, for `max_connections_per_ip`. */
  connectionsFrom(address: string): number;
  /** A session of this process as it is now, without waiting; undefined for any other. */
  getNow(id: string): SessionInfo | undefined;
  /** Connects to the other instances, when there are any; before the first session. */
  start(): Promise<void>;
  /** Lets go of what the hub holds (timers, connections to other processes); idempotent. */
  stop(): Promise<void>;
  /** Lends the hub the screens of this process's sessions for watchers elsewhere; undefined takes it back. */
  setScreenSource(source: ScreenSource | undefined): void;
  /** Undefined for a hub of one process. */
  sharing(): HubSharing | undefined;
}

/** How many sessions one turn of a broadcast writes to before letting other work run. */
const BROADCAST_BATCH = 256;

/** The default hub: one process, no outside service. */
export class InProcessHub implements SessionHub {
  readonly instance: string;
  readonly events: SessionEvents;
  readonly peers = new SessionEvents();
  readonly telnetOptions = new OptionCounts();
  #members = new ChurnMap<string, HubMember>();
  #addresses = new Map<string, number>();

  constructor(options: { logger?: Logger; instance?: string } = {}) {
    this.instance = options.instance ?? `${hostname()}/${process.pid}/${newSessionId().slice(0, 4)}`;
    const logger = options.logger;
    this.events = new SessionEvents((err, type) =>
      logger?.error({ err, event: type }, 'session event consumer failed'),
    );
  }

  get localCount(): number {
    return this.#members.size;
  }

  add(member: HubMember): void {
    this.#members.set(member.id, member);
    const address = canonicalAddress(member.remoteAddress);
    this.#addresses.set(address, (this.#addresses.get(address) ?? 0) + 1);
    if (sessionCount.hasSubscribers) sessionCount.publish(this.#members.size);
  }

  remove(member: HubMember): void {
    if (!this.#members.delete(member.id)) return;
    const address = canonicalAddress(member.remoteAddress);
    const count = (this.#addresses.get(address) ?? 1) - 1;
    if (count <= 0) this.#addresses.delete(address);
    else this.#addresses.set(address, count);
    if (sessionCount.hasSubscribers) sessionCount.publish(this.#members.size);
  }

  connectionsFrom(address: string): number {
    return this.#addresses.get(canonicalAddress(address)) ?? 0;
  }

  list(filter?: SessionFilter): Promise<SessionInfo[]> {
    return Promise.resolve(this.listNow(filter));
  }

  get(id: string): Promise<SessionInfo | undefined> {
    return Promise.resolve(this.getNow(id));
  }

  /** `list()` without waiting: this process's sessions as of this moment. */
  listNow(filter?: SessionFilter): SessionInfo[] {
    const infos: SessionInfo[] = [];
    for (const member of this.#members.values()) {
      const info = member.info();
      if (matchesFilter(info, filter)) infos.push(info);
    }
    return infos;
  }

  /** `get()` without waiting. */
  getNow(id: string): SessionInfo | undefined {
    return this.#members.get(id)?.info();
  }

  async broadcast(text: string, filter?: SessionFilter): Promise<number> {
    const line = `${text}\n`;
    // A copy: sessions that join or leave meanwhile neither get it twice nor break the loop.
    const members = [...this.#members.values()];
    let sent = 0;
    for (let i = 0; i < members.length; i++) {
      const member = members[i]!;
      if (filter !== undefined && !matchesFilter(member.info(), filter)) continue;
      // Not awaited: one session that does not read must not hold up everyone after it.
      member.notify(line).catch(() => undefined);
      sent++;
      if ((i + 1) % BROADCAST_BATCH === 0) await nextTurn();
    }
    return sent;
  }

  async send(id: string, text: string): Promise<boolean> {
    const member = this.#members.get(id);
    if (member === undefined) return false;
    await member.notify(`${text}\n`);
    return true;
  }

  async kick(id: string, message?: string): Promise<boolean> {
    const member = this.#members.get(id);
    if (member === undefined) return false;
    await member.kick(message);
    return true;
  }

  watch(): Promise<RemoteWatch | undefined> {
    return Promise.resolve(undefined);
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  setScreenSource(): void {}

  sharing(): HubSharing | undefined {
    return undefined;
  }
}

/** Whether a session passes every condition of `filter`. */
export function matchesFilter(info: SessionInfo, filter: SessionFilter | undefined): boolean {
  if (filter === undefined) return true;
  return (
    isAllowed(info.server, filter.server) &&
    isAllowed(info.transport, filter.transport) &&
    !isListed(info.id, filter.except)
  );
}

function isAllowed(value: string, allowed: string | readonly string[] | undefined): boolean {
  return allowed === undefined || isListed(value, allowed);
}

function isListed(value: string, list: string | readonly string[] | undefined): boolean {
  if (list === undefined) return false;
  return typeof list === 'string' ? list === value : list.includes(value);
}
