// The hub of an application served by several instances: each keeps its own sessions, and learns the others' over a HubBus.
import type { Logger } from 'pino';

import { ChurnMap } from '../churn-map.js';
import { canonicalAddress } from '../transports/address.js';
import type { HubBus, BusState } from './bus.js';
import type { SessionEndReason, SessionInfo } from './events.js';
import { SessionEvents } from './events.js';
import { InProcessHub, matchesFilter } from './hub.js';
import type { OptionCounts } from './option-counts.js';
import type {
  HubMember,
  HubSharing,
  RemoteScreen,
  RemoteWatch,
  ScreenSource,
  SessionFilter,
  SessionHub,
  WatchedEvent,
} from './hub.js';

/** Options of a BusHub; the times are the config's `hub.heartbeat_interval` and `hub.instance_timeout`. */
export interface BusHubOptions {
  bus: HubBus;
  /** What connects the instances, for logs and metrics ("redis", "ipc"). */
  via: string;
  logger?: Logger;
  instance?: string;
  /** How often this instance tells the others it is alive. */
  heartbeatMs?: number;
  /** An instance not heard from for this long is gone, and its sessions with it. */
  instanceTimeoutMs?: number;
  /** Whether `connectionsFrom` counts the sessions of every instance (true) or of this one. */
  sharedIpLimits?: boolean;
}

/**
 * What instances say to each other. Messages to all carry the sender's sequence number, so that
 * a receiver that missed one (an outage, a reconnection) asks the sender for its whole state.
 */
type Message =
  | { t: 'state'; from: string; seq: number; sessions: SessionInfo[]; ask: boolean }
  | { t: 'beat'; from: string; seq: number }
  | { t: 'start'; from: string; seq: number; session: SessionInfo }
  | { t: 'update'; from: string; seq: number; session: SessionInfo }
  | { t: 'end'; from: string; seq: number; session: SessionInfo; reason: SessionEndReason }
  | { t: 'broadcast'; from: string; seq: number; text: string; filter: SessionFilter | undefined }
  | { t: 'bye'; from: string; seq: number }
  // To one instance:
  | { t: 'sync'; from: string }
  | { t: 'send'; from: string; id: string; text: string }
  | { t: 'kick'; from: string; id: string; message: string | undefined }
  | { t: 'watch'; from: string; id: string; req: number }
  | { t: 'unwatch'; from: string; id: string }
  | { t: 'screen'; from: string; req: number; screen: RemoteScreen | undefined; last: number }
  | { t: 'traffic'; from: string; id: string; event: WatchedEvent };

/** Another instance as this one knows it. */
interface Peer {
  /** A ChurnMap: a peer's sessions come and go as often as this process's own. */
  sessions: ChurnMap<string, SessionInfo>;
  lastHeard: number;
  /** The sequence number of its last message to all; undefined until its state is known. */
  seq: number | undefined;
}

/** A session of another instance watched from here. */
interface Watching {
  owner: string;
  sinks: Set<(event: WatchedEvent) => void>;
}

/** A session of this instance watched from others. */
interface Forward {
  watchers: Set<string>;
  /** Events forwarded so far: the numbering watchers see. */
  seq: number;
}

const DEFAULT_HEARTBEAT_MS = 1000;
const DEFAULT_INSTANCE_TIMEOUT_MS = 5000;
/** How long a watch waits for the serving instance's screen. */
const SCREEN_TIMEOUT_MS = 5000;

/** The hub of one instance among several that share a bus; on its own it behaves as an InProcessHub. */
export class BusHub implements SessionHub {
  readonly instance: string;
  readonly events: SessionEvents;
  readonly peers: SessionEvents;
  readonly telnetOptions: OptionCounts;
  #local: InProcessHub;
  #bus: HubBus;
  #via: string;
  #logger: Logger | undefined;
  #heartbeatMs: number;
  #instanceTimeoutMs: number;
  #sharedIpLimits: boolean;
  #others = new Map<string, Peer>();
  #remoteAddresses = new Map<string, number>();
  #seq = 0;
  #dropped = 0;
  #watching = new Map<string, Watching>();
  #forwards = new Map<string, Forward>();
  #unsubscribeTraffic: (() => void) | undefined;
  #screenSource: ScreenSource | undefined;
  #requests = new Map<number, (reply: { screen: RemoteScreen | undefined; seq: number } | undefined) => void>();
  #nextRequest = 0;
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #hasBeenUp = false;
  #stopping: Promise<void> | undefined;

  constructor(options: BusHubOptions) {
    this.#local = new InProcessHub({ logger: options.logger, instance: options.instance });
    this.instance = this.#local.instance;
    this.events = this.#local.events;
    this.telnetOptions = this.#local.telnetOptions;
    const logger = options.logger;
    this.peers = new SessionEvents((err, type) => logger?.error({ err, event: type }, 'peer event consumer failed'));
    this.#bus = options.bus;
    this.#via = options.via;
    this.#logger = logger;
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#instanceTimeoutMs = options.instanceTimeoutMs ?? DEFAULT_INSTANCE_TIMEOUT_MS;
    this.#sharedIpLimits = options.sharedIpLimits ?? true;
  }

  get localCount(): number {
    return this.#local.localCount;
  }

  async start(): Promise<void> {
    if (this.#unsubscribe !== undefined) return;
    this.#unsubscribe = this.events.subscribe({
      'session-started': ({ session }) => this.#toAll({ t: 'start', session }),
      'session-ended': ({ session, reason }) => {
        this.#endForward(session.id);
        this.#toAll({ t: 'end', session, reason });
      },
      terminal: ({ sessionId }) => this.#changed(sessionId),
      user: ({ sessionId }) => this.#changed(sessionId),
    });
    this.#timer = setInterval(() => this.#tick(), this.#heartbeatMs);
    this.#timer.unref();
    await this.#bus.start(this.instance, {
      message: (payload) => this.#receive(payload),
      state: (state) => this.#state(state),
    });
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#timer);
      this.#unsubscribe?.();
      this.#unsubscribeTraffic?.();
      this.#unsubscribeTraffic = undefined;
      if (this.#bus.isUp) this.#toAll({ t: 'bye' });
      for (const resolve of this.#requests.values()) resolve(undefined);
      this.#requests.clear();
      await this.#bus.stop();
    })();
    return this.#stopping;
  }

  sharing(): HubSharing {
    return { via: this.#via, isUp: this.#bus.isUp, instances: this.#others.size, dropped: this.#dropped };
  }

  setScreenSource(source: ScreenSource | undefined): void {
    this.#screenSource = source;
  }

  add(member: HubMember): void {
    this.#local.add(member);
  }

  remove(member: HubMember): void {
    this.#local.remove(member);
  }

  connectionsFrom(address: string): number {
    const local = this.#local.connectionsFrom(address);
    if (!this.#sharedIpLimits) return local;
    return local + (this.#remoteAddresses.get(canonicalAddress(address)) ?? 0);
  }

  async list(filter?: SessionFilter): Promise<SessionInfo[]> {
    const infos = await this.#local.list(filter);
    for (const peer of this.#others.values()) {
      for (const info of peer.sessions.values()) if (matchesFilter(info, filter)) infos.push(copyOf(info));
    }
    return infos;
  }

  getNow(id: string): SessionInfo | undefined {
    return this.#local.getNow(id);
  }

  async get(id: string): Promise<SessionInfo | undefined> {
    const remote = this.#remote(id);
    return (await this.#local.get(id)) ?? (remote === undefined ? undefined : copyOf(remote.info));
  }

  async broadcast(text: string, filter?: SessionFilter): Promise<number> {
    let remote = 0;
    // Sent first: the other instances write while this one does.
    if (this.#toAll({ t: 'broadcast', text, filter })) {
      for (const peer of this.#others.values()) {
        for (const info of peer.sessions.values()) if (matchesFilter(info, filter)) remote++;
      }
    }
    return remote + (await this.#local.broadcast(text, filter));
  }

  async send(id: string, text: string): Promise<boolean> {
    if (await this.#local.send(id, text)) return true;
    const owner = this.#remote(id)?.owner;
    return owner !== undefined && this.#toOne(owner, { t: 'send', id, text });
  }

  async kick(id: string, message?: string): Promise<boolean> {
    if (await this.#local.kick(id, message)) return true;
    const owner = this.#remote(id)?.owner;
    return owner !== undefined && this.#toOne(owner, { t: 'kick', id, message });
  }

  async watch(id: string, sink: (event: WatchedEvent) => void): Promise<RemoteWatch | undefined> {
    const owner = this.#remote(id)?.owner;
    if (owner === undefined) return undefined;
    const req = ++this.#nextRequest;
    const watching = this.#watching.get(id) ?? { owner, sinks: new Set() };
    this.#watching.set(id, watching);
    watching.sinks.add(sink);
    const stop = (): void => {
      if (this.#watching.get(id) !== watching || !watching.sinks.delete(sink) || watching.sinks.size > 0) return;
      this.#watching.delete(id);
      this.#toOne(owner, { t: 'unwatch', id });
    };
    const reply = this.#toOne(owner, { t: 'watch', id, req })
      ? await new Promise<{ screen: RemoteScreen | undefined; seq: number } | undefined>((resolve) => {
          const timer = setTimeout(() => {
            this.#requests.delete(req);
            resolve(undefined);
          }, SCREEN_TIMEOUT_MS);
          timer.unref();
          this.#requests.set(req, (answer) => {
            clearTimeout(timer);
            this.#requests.delete(req);
            resolve(answer);
          });
        })
      : undefined;
    if (reply === undefined) {
      stop();
      return undefined;
    }
    return { screen: reply.screen, seq: reply.seq, stop };
  }

  /** Where a session of another instance is, and what is known of it. */
  #remote(id: string): { owner: string; info: SessionInfo } | undefined {
    for (const [owner, peer] of this.#others) {
      const info = peer.sessions.get(id);
      if (info !== undefined) return { owner, info };
    }
    return undefined;
  }

  #changed(sessionId: string): void {
    const session = this.#local.getNow(sessionId);
    if (session !== undefined) this.#toAll({ t: 'update', session });
  }

  #tick(): void {
    if (this.#bus.isUp) this.#toAll({ t: 'beat' });
    const deadline = Date.now() - this.#instanceTimeoutMs;
    for (const [instance, peer] of this.#others) {
      if (peer.lastHeard >= deadline) continue;
      this.#logger?.warn(
        { instance, sessions: peer.sessions.size },
        'hub: instance not heard from; its sessions are gone',
      );
      this.#forget(instance, 'connection-lost');
    }
  }

  #state(state: BusState): void {
    if (state === 'down') {
      this.#logger?.warn(
        { via: this.#via },
        'hub: other instances unreachable; serving this instance only until they are back',
      );
      return;
    }
    if (this.#hasBeenUp) this.#logger?.warn({ via: this.#via }, 'hub: other instances reachable again');
    else this.#logger?.info({ via: this.#via, instance: this.instance }, 'hub: connected to the other instances');
    this.#hasBeenUp = true;
    // Whatever was missed meanwhile: everyone's whole state, ours first.
    this.#sendState(undefined);
  }

  /** This instance's sessions, to all (asking for theirs in return) or as the answer to one. */
  #sendState(to: string | undefined): void {
    const sessions = this.#local.listNow();
    // An answer keeps the numbering: the asker then expects our next message to all.
    const seq = to === undefined ? ++this.#seq : this.#seq;
    const message: Message = { t: 'state', from: this.instance, seq, sessions, ask: to === undefined };
    this.#deliver(JSON.stringify(message), to);
  }

  #toAll(
    message: DistributiveOmit<Exclude<Extract<Message, { seq: number }>, { t: 'state' }>, 'from' | 'seq'>,
  ): boolean {
    const seq = ++this.#seq;
    return this.#deliver(JSON.stringify({ ...message, from: this.instance, seq }), undefined);
  }

  #toOne(to: string, message: DistributiveOmit<Exclude<Message, { seq: number }>, 'from'>): boolean {
    return this.#deliver(JSON.stringify({ ...message, from: this.instance }), to);
  }

  #deliver(payload: string, to: string | undefined): boolean {
    if (this.#bus.send(payload, to)) return true;
    this.#dropped++;
    return false;
  }

  #receive(payload: string): void {
    let message: Message;
    try {
      message = JSON.parse(payload) as Message;
    } catch (err) {
      this.#logger?.warn({ err }, 'hub: a message from another instance is not JSON; ignored');
      return;
    }
    if (message.from === this.instance || this.#stopping !== undefined) return;
    if (message.t === 'bye') {
      this.#forget(message.from, 'server-shutdown');
      return;
    }
    let peer = this.#others.get(message.from);
    if (peer === undefined) {
      peer = { sessions: new ChurnMap(), lastHeard: 0, seq: undefined };
      this.#others.set(message.from, peer);
    }
    peer.lastHeard = Date.now();
    if ('seq' in message) {
      if (message.t !== 'state' && (peer.seq === undefined || message.seq !== peer.seq + 1)) {
        this.#toOne(message.from, { t: 'sync' });
      }
      peer.seq = message.seq;
    }
    this.#handle(message, peer);
  }

  #handle(message: Message, peer: Peer): void {
    switch (message.t) {
      case 'state':
        this.#replace(peer, message.sessions);
        if (message.ask) this.#sendState(message.from);
        return;
      case 'sync':
        this.#sendState(message.from);
        return;
      case 'start':
        this.#add(peer, message.session);
        return;
      case 'update':
        this.#update(peer, message.session);
        return;
      case 'end':
        this.#end(peer, message.session.id, message.reason);
        return;
      case 'broadcast':
        void this.#local.broadcast(message.text, message.filter);
        return;
      case 'send':
        void this.#local.send(message.id, message.text);
        return;
      case 'kick':
        void this.#local.kick(message.id, message.message);
        return;
      case 'watch':
        void this.#startForward(message.from, message.id, message.req);
        return;
      case 'unwatch':
        this.#stopForward(message.from, message.id);
        return;
      case 'screen':
        this.#requests.get(message.req)?.({ screen: message.screen, seq: message.last });
        return;
      case 'traffic':
        for (const sink of this.#watching.get(message.id)?.sinks ?? []) sink(message.event);
        return;
      case 'beat':
      case 'bye':
        return;
    }
  }

  #replace(peer: Peer, sessions: SessionInfo[]): void {
    const current = new Set(sessions.map((session) => session.id));
    for (const id of [...peer.sessions.keys()]) if (!current.has(id)) this.#end(peer, id, 'connection-lost');
    for (const session of sessions) {
      if (peer.sessions.has(session.id)) this.#update(peer, session);
      else this.#add(peer, session);
    }
  }

  #add(peer: Peer, session: SessionInfo): void {
    if (peer.sessions.has(session.id)) return;
    peer.sessions.set(session.id, session);
    const address = canonicalAddress(session.remoteAddress);
    this.#remoteAddresses.set(address, (this.#remoteAddresses.get(address) ?? 0) + 1);
    if (this.peers.has('session-started')) this.peers.publish('session-started', { session });
  }

  #update(peer: Peer, session: SessionInfo): void {
    const previous = peer.sessions.get(session.id);
    if (previous === undefined) return;
    peer.sessions.set(session.id, session);
    const { type, cols, rows } = session.terminal;
    if (type !== previous.terminal.type || cols !== previous.terminal.cols || rows !== previous.terminal.rows) {
      this.peers.publish('terminal', { sessionId: session.id, terminal: session.terminal });
    }
    if (session.user !== previous.user) this.peers.publish('user', { sessionId: session.id, user: session.user });
  }

  #end(peer: Peer, id: string, reason: SessionEndReason): void {
    const session = peer.sessions.get(id);
    if (session === undefined) return;
    peer.sessions.delete(id);
    this.#watching.delete(id);
    const address = canonicalAddress(session.remoteAddress);
    const count = (this.#remoteAddresses.get(address) ?? 1) - 1;
    if (count <= 0) this.#remoteAddresses.delete(address);
    else this.#remoteAddresses.set(address, count);
    this.peers.publish('session-ended', { session, reason });
  }

  /** Drops an instance that left or died: its sessions, and what it watched here. */
  #forget(instance: string, reason: SessionEndReason): void {
    const peer = this.#others.get(instance);
    if (peer === undefined) return;
    for (const id of [...peer.sessions.keys()]) this.#end(peer, id, reason);
    this.#others.delete(instance);
    for (const id of [...this.#forwards.keys()]) this.#stopForward(instance, id);
  }

  async #startForward(watcher: string, id: string, req: number): Promise<void> {
    if (this.#local.getNow(id) === undefined) {
      this.#toOne(watcher, { t: 'screen', req, screen: undefined, last: 0 });
      return;
    }
    const forward = this.#forwards.get(id) ?? { watchers: new Set<string>(), seq: 0 };
    this.#forwards.set(id, forward);
    forward.watchers.add(watcher);
    this.#unsubscribeTraffic ??= this.events.subscribe({
      output: ({ sessionId, text }) => this.#forward(sessionId, { type: 'output', text }),
      input: ({ sessionId, kind, hidden, text }) => this.#forward(sessionId, { type: 'input', kind, hidden, text }),
    });
    // Taken in the same turn as the numbering is read: events after it are numbered above it.
    const last = forward.seq;
    const screen = await this.#screenSource?.screen(id);
    this.#toOne(watcher, { t: 'screen', req, screen, last });
  }

  #forward(sessionId: string, event: DistributiveOmit<WatchedEvent, 'seq'>): void {
    const forward = this.#forwards.get(sessionId);
    if (forward === undefined) return;
    const numbered = { ...event, seq: ++forward.seq } as WatchedEvent;
    for (const watcher of forward.watchers) this.#toOne(watcher, { t: 'traffic', id: sessionId, event: numbered });
  }

  #stopForward(watcher: string, id: string): void {
    const forward = this.#forwards.get(id);
    if (forward === undefined || !forward.watchers.delete(watcher) || forward.watchers.size > 0) return;
    this.#screenSource?.release(id);
    this.#endForward(id);
  }

  /** Forwards nothing more of `id`; the last forward to end lets go of the traffic subscription. */
  #endForward(id: string): void {
    if (!this.#forwards.delete(id)) return;
    if (this.#forwards.size === 0) {
      this.#unsubscribeTraffic?.();
      this.#unsubscribeTraffic = undefined;
    }
  }
}

/** A listing's own copy: what one caller does to it, no other sees. */
function copyOf(info: SessionInfo): SessionInfo {
  return { ...info, terminal: { ...info.terminal } };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
