// The session monitor: viewers watch sessions of every transport over WebSocket (the seed's protocol).
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';

import { ChurnMap } from '../churn-map.js';
import type { SessionEndReason, SessionEventMap, SessionInfo, TerminalSummary } from '../hub/events.js';
import type { RemoteScreen, RemoteWatch, SessionHub, WatchedEvent } from '../hub/hub.js';
import type { AccessLevel } from './access.js';
import { ReplayLog } from './replay-log.js';
import { SessionScreen } from './screen.js';

/** What a connected viewer may do. */
type ViewerAccess = Exclude<AccessLevel, 'none'>;

/** A session as the monitor keeps it: small, since every session has one. */
interface Tracked {
  id: string;
  startedAt: number;
  /**
   * Another instance's session as its events told: as of its start, with the terminal and user
   * updated since (in place: a copy of the event's); byte counts come from the hub. Undefined for
   * a session of this process, which the hub describes as it is now whenever asked: thousands of
   * idle sessions need not each keep a copy.
   */
  info: SessionInfo | undefined;
  /** Sessions of this process only: another instance keeps the screens of its own. */
  screen: SessionScreen | undefined;
  /** Whether viewers on other instances watch it, through the hub. */
  isWatchedElsewhere: boolean;
  /** Viewers watching it; made by the first. */
  watchers: Set<Viewer> | undefined;
  /** Byte counts and last input as viewers last heard them, to send only what changed. */
  sentCounts: string | undefined;
  /** Its neighbours in start order (start time, then arrival): the newest session is the last. */
  older: Tracked | undefined;
  newer: Tracked | undefined;
}

/** A message held for a viewer until the snapshot it follows is sent. */
interface Held {
  /** For output: its chunk number, to drop what the snapshot already shows. */
  seq: number | undefined;
  message: string;
}

/** One connected viewer. */
interface Viewer {
  ws: WebSocket;
  address: string;
  access: ViewerAccess;
  /** Settles once the viewer has its `active_sessions`: nothing is sent to it before. */
  ready: Promise<void>;
  isReady: boolean;
  watching: Set<string>;
  /** Per watched session whose snapshot is being made: live events that came meanwhile. */
  held: Map<string, Held[]>;
  heldLength: number;
  /** The streams of the sessions of other instances it watches. */
  remote: Map<string, RemoteWatch>;
}

/** A viewer's message, once it parsed as a JSON object with a type. */
type Request = Record<string, unknown> & { type: string };

/** Sessions that can have a screen model at once; a watch beyond is refused. */
export const MAX_WATCHED_SESSIONS = 100;

/** Unsent bytes a viewer may hold up (WebSocket buffer and held events) before it is dropped. */
export const MAX_VIEWER_BACKLOG = 1024 * 1024;

/** How often viewers hear the byte counts and idle times of sessions that changed. */
const COUNTS_REFRESH_MS = 5000;

/** How long a dropped or closed viewer has to complete the close handshake. */
const CLOSE_TIMEOUT_MS = 5000;

const NOTICE_WATCHED = '[An operator is now watching this session]';
const NOTICE_UNWATCHED = '[No operator is watching this session any more]';
const KICK_MESSAGE = 'Disconnected by an operator.';
const ADMIN_ONLY = 'Operator actions need the monitor_admin_token';

/** Serves viewers from the application's event stream. */
export class Monitor {
  #app: SessionHub;
  #notice: boolean;
  #logger: Logger;
  #sessions = new ChurnMap<string, Tracked>();
  /** The recent output of this process's sessions, for viewers who join late. */
  #replayLog: ReplayLog;
  /** The last of the tracked sessions in start order: the one that started last. */
  #newest: Tracked | undefined;
  /** Sessions with a screen model (watched now). */
  #screens = 0;
  #viewers = new Set<Viewer>();
  #unsubscribe: (() => void) | undefined;
  #unsubscribePeers: (() => void) | undefined;
  /** Input matters only to viewers: subscribed while there are any, so that sessions publish none otherwise. */
  #unsubscribeInput: (() => void) | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #isStopped = false;

  /** `replayLog`: where sessions' output is kept for late viewers; a log of its own by default. */
  constructor(app: SessionHub, options: { notice: boolean; logger: Logger; replayLog?: ReplayLog }) {
    this.#app = app;
    this.#notice = options.notice;
    this.#logger = options.logger;
    this.#replayLog = options.replayLog ?? new ReplayLog();
  }

  /** Viewers connected now. */
  get viewerCount(): number {
    return this.#viewers.size;
  }

  /** Subscribes to the application's events. */
  start(): void {
    if (this.#unsubscribe !== undefined || this.#isStopped) return;
    this.#unsubscribe = this.#app.events.subscribe({
      'session-started': ({ session }) => this.#started(session),
      'session-ended': ({ session, reason }) => this.#ended(session, reason),
      output: ({ sessionId, text }) => this.#output(sessionId, text),
      terminal: ({ sessionId, terminal }) => this.#terminal(sessionId, terminal),
      user: ({ sessionId, user }) => this.#user(sessionId, user),
    });
    // Other instances' sessions, listed beside this one's and watched through the hub.
    this.#unsubscribePeers = this.#app.peers.subscribe({
      'session-started': ({ session }) => this.#started(session, false),
      'session-ended': ({ session, reason }) => this.#ended(session, reason),
      terminal: ({ sessionId, terminal }) => this.#terminal(sessionId, terminal),
      user: ({ sessionId, user }) => this.#user(sessionId, user),
    });
    this.#app.setScreenSource({
      screen: (id) => this.#lendScreen(id),
      release: (id) => this.#takeBackScreen(id),
    });
    this.#refreshTimer = setInterval(() => void this.#refreshCounts(), COUNTS_REFRESH_MS);
    this.#refreshTimer.unref();
  }

  /** Unsubscribes and closes every viewer. */
  async stop(): Promise<void> {
    this.#isStopped = true;
    clearInterval(this.#refreshTimer);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#unsubscribePeers?.();
    this.#unsubscribePeers = undefined;
    this.#app.setScreenSource(undefined);
    this.#unsubscribeInput?.();
    this.#unsubscribeInput = undefined;
    // Forgotten first: the viewers' goodbyes must not tell users that watching stopped.
    for (const tracked of this.#sessions.values()) tracked.screen?.dispose();
    for (const viewer of this.#viewers) for (const watch of viewer.remote.values()) watch.stop();
    this.#sessions.clear();
    this.#newest = undefined;
    this.#screens = 0;
    const viewers = [...this.#viewers];
    await Promise.all(viewers.map((viewer) => closeViewer(viewer.ws, 1001, 'Monitor stopping')));
  }

  /** A viewer whose token was checked at the handshake. */
  addViewer(ws: WebSocket, viewer: { address: string; level: ViewerAccess }): void {
    ws.on('error', (err) => this.#logger.debug({ err, viewer: viewer.address }, 'monitor: viewer socket error'));
    if (this.#isStopped) {
      void closeViewer(ws, 1001, 'Monitor stopping');
      return;
    }
    let markReady = (): void => undefined;
    const state: Viewer = {
      ws,
      address: viewer.address,
      access: viewer.level,
      ready: new Promise<void>((resolve) => (markReady = resolve)),
      isReady: false,
      watching: new Set(),
      held: new Map(),
      heldLength: 0,
      remote: new Map(),
    };
    this.#viewers.add(state);
    this.#unsubscribeInput ??= this.#app.events.on('input', (event) => this.#input(event));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      // In arrival order, and only once the viewer has its listing.
      void state.ready.then(() => this.#receive(state, data, isBinary));
    });
    ws.on('close', () => this.#forget(state));
    this.#logger.info({ viewer: state.address, access: state.access }, 'monitor: viewer connected');
    void this.#greet(state).finally(markReady);
  }

  async #greet(viewer: Viewer): Promise<void> {
    const counts = new Map<string, SessionInfo>();
    try {
      for (const info of await this.#app.list()) counts.set(info.id, info);
    } catch (err) {
      this.#logger.error({ err }, 'monitor: sessions could not be listed; byte counts are as of their start');
    }
    if (!this.#viewers.has(viewer)) return;
    // Taken after the wait: a session that started or ended meanwhile is listed as it is now.
    const sessions = [...this.#sessions.values()].flatMap((tracked) => {
      const info = this.#summary(tracked, counts.get(tracked.id));
      return info === undefined ? [] : [describe(info, 'connected', tracked === this.#newest)];
    });
    viewer.isReady = true;
    this.#send(viewer, JSON.stringify({ type: 'active_sessions', access: viewer.access, sessions }));
  }

  #receive(viewer: Viewer, data: RawData, isBinary: boolean): void {
    if (!this.#viewers.has(viewer)) return;
    const request = isBinary ? undefined : parseRequest(rawText(data));
    if (typeof request === 'string' || request === undefined) {
      this.#reply(viewer, { type: 'error', error: request ?? 'Messages must be JSON text' });
      return;
    }
    switch (request.type) {
      case 'watch_session':
      case 'stop_watching': {
        const sessionId = request.session_id;
        if (typeof sessionId !== 'string') {
          this.#reply(viewer, { type: 'error', error: `${request.type} needs a "session_id" string` });
        } else if (request.type === 'watch_session') {
          void this.#watch(viewer, sessionId);
        } else {
          this.#unwatch(viewer, sessionId, 'stop_watching');
          this.#reply(viewer, { type: 'watch_response', session_id: sessionId, status: 'stopped' });
        }
        return;
      }
      case 'send_message':
      case 'broadcast':
      case 'disconnect':
        void this.#act(viewer, request);
        return;
      default:
        this.#reply(viewer, { type: 'error', error: `Unknown message type "${request.type}"` });
    }
  }

  async #watch(viewer: Viewer, sessionId: string): Promise<void> {
    const tracked = this.#sessions.get(sessionId);
    if (tracked === undefined) {
      this.#reply(viewer, {
        type: 'watch_response',
        session_id: sessionId,
        status: 'error',
        error: 'Session not found',
      });
      return;
    }
    if (tracked.screen === undefined) {
      await this.#watchElsewhere(viewer, tracked);
      return;
    }
    if (!tracked.screen.isAttached && this.#screens >= MAX_WATCHED_SESSIONS) {
      const error = `Too many sessions are being watched at once (at most ${MAX_WATCHED_SESSIONS}); stop watching one first`;
      this.#reply(viewer, { type: 'watch_response', session_id: sessionId, status: 'error', error });
      return;
    }
    // A snapshot already on its way answers a repeated watch too.
    if (viewer.held.has(sessionId)) {
      this.#reply(viewer, { type: 'watch_response', session_id: sessionId, status: 'success' });
      return;
    }
    const isNew = !viewer.watching.has(sessionId);
    viewer.watching.add(sessionId);
    tracked.watchers ??= new Set();
    tracked.watchers.add(viewer);
    if (!tracked.screen.isAttached) {
      tracked.screen.attach();
      this.#screens++;
    }
    viewer.held.set(sessionId, []);
    // Asked before anything else can be written: events from here on are held, then sent after it.
    const snapshot = tracked.screen.snapshot();
    this.#reply(viewer, { type: 'watch_response', session_id: sessionId, status: 'success' });
    if (isNew) {
      this.#audit(viewer, 'watch_session', sessionId);
      if (tracked.watchers.size === 1) this.#tell(sessionId, NOTICE_WATCHED);
    }
    const screen = await snapshot;
    // Released already when the viewer stopped watching, left, or the session ended meanwhile.
    if (screen === undefined || !viewer.held.has(sessionId)) return;
    const held = this.#release(viewer, sessionId);
    this.#reply(viewer, {
      type: 'screen_snapshot',
      session_id: sessionId,
      data: { text: screen.text, cols: screen.cols, rows: screen.rows },
    });
    for (const { seq, message } of held) if (seq === undefined || seq > screen.seq) this.#send(viewer, message);
  }

  /**
   * Watches a session of another instance: its screen as that instance has it, then its traffic,
   * streamed through the hub to this viewer only while it watches.
   */
  async #watchElsewhere(viewer: Viewer, tracked: Tracked): Promise<void> {
    const sessionId = tracked.id;
    if (viewer.watching.has(sessionId)) {
      this.#reply(viewer, { type: 'watch_response', session_id: sessionId, status: 'success' });
      return;
    }
    viewer.watching.add(sessionId);
    tracked.watchers ??= new Set();
    tracked.watchers.add(viewer);
    viewer.held.set(sessionId, []);
    const watch = await this.#app.watch(sessionId, (event) => this.#watchedElsewhere(viewer, sessionId, event));
    // The viewer stopped watching or left, or the session ended, while its instance answered.
    if (!viewer.watching.has(sessionId) || !this.#viewers.has(viewer)) {
      watch?.stop();
      return;
    }
    if (watch === undefined) {
      this.#unwatch(viewer, sessionId, 'stop_watching');
      const error = 'The instance serving this session did not answer';
      this.#reply(viewer, { type: 'watch_response', session_id: sessionId, status: 'error', error });
      return;
    }
    viewer.remote.set(sessionId, watch);
    this.#reply(viewer, { type: 'watch_response', session_id: sessionId, status: 'success' });
    this.#audit(viewer, 'watch_session', sessionId);
    if (tracked.watchers.size === 1) this.#tell(sessionId, NOTICE_WATCHED);
    const terminal = tracked.info?.terminal;
    const screen: RemoteScreen = watch.screen ?? { text: '', cols: terminal?.cols ?? 80, rows: terminal?.rows ?? 24 };
    const held = this.#release(viewer, sessionId);
    this.#reply(viewer, { type: 'screen_snapshot', session_id: sessionId, data: screen });
    for (const { seq, message } of held) if (seq === undefined || seq > watch.seq) this.#send(viewer, message);
  }

  #watchedElsewhere(viewer: Viewer, sessionId: string, event: WatchedEvent): void {
    const message =
      event.type === 'output'
        ? { type: 'server_message', session_id: sessionId, data: { text: event.text } }
        : { type: 'client_input', session_id: sessionId, data: inputData(event) };
    this.#toWatchers(sessionId, [viewer], event.seq, message);
  }

  /** The hub's ScreenSource: a screen of this process's, kept while other instances watch it. */
  #lendScreen(sessionId: string): Promise<RemoteScreen | undefined> {
    const tracked = this.#sessions.get(sessionId);
    if (tracked?.screen === undefined) return Promise.resolve(undefined);
    if (!tracked.screen.isAttached) {
      if (this.#screens >= MAX_WATCHED_SESSIONS) return Promise.resolve(undefined);
      tracked.screen.attach();
      this.#screens++;
    }
    tracked.isWatchedElsewhere = true;
    return tracked.screen
      .snapshot()
      .then((screen) => screen && { text: screen.text, cols: screen.cols, rows: screen.rows });
  }

  #takeBackScreen(sessionId: string): void {
    const tracked = this.#sessions.get(sessionId);
    if (tracked === undefined) return;
    tracked.isWatchedElsewhere = false;
    if (tracked.watchers === undefined) this.#detach(tracked);
  }

  /** Stops `viewer` watching `sessionId`; the last viewer to stop lets go of the screen model. */
  #unwatch(viewer: Viewer, sessionId: string, action: 'stop_watching' | 'viewer-left'): void {
    if (!viewer.watching.delete(sessionId)) return;
    viewer.remote.get(sessionId)?.stop();
    viewer.remote.delete(sessionId);
    this.#release(viewer, sessionId);
    this.#audit(viewer, action, sessionId);
    const tracked = this.#sessions.get(sessionId);
    if (tracked?.watchers === undefined || !tracked.watchers.delete(viewer) || tracked.watchers.size > 0) return;
    tracked.watchers = undefined;
    if (!tracked.isWatchedElsewhere) this.#detach(tracked);
    this.#tell(sessionId, NOTICE_UNWATCHED);
  }

  async #act(viewer: Viewer, request: Request): Promise<void> {
    const action = request.type;
    const sessionId = typeof request.session_id === 'string' ? request.session_id : undefined;
    const text = typeof request.text === 'string' ? request.text : undefined;
    if (viewer.access !== 'admin') {
      this.#logger.warn(
        { audit: true, viewer: viewer.address, session: sessionId, action, refused: true },
        'monitor audit',
      );
      this.#reply(viewer, { type: 'action_response', action, status: 'error', error: ADMIN_ONLY });
      return;
    }
    const needsSession = action !== 'broadcast';
    const needsText = action !== 'disconnect';
    if ((needsSession && sessionId === undefined) || (needsText && text === undefined)) {
      const fields = [needsSession ? '"session_id"' : '', needsText ? '"text"' : ''].filter(Boolean).join(' and ');
      this.#reply(viewer, { type: 'error', error: `${action} needs ${fields} as strings` });
      return;
    }
    this.#audit(viewer, action, sessionId);
    const answer = (fields: Record<string, unknown>): void =>
      this.#reply(viewer, {
        type: 'action_response',
        action,
        ...(sessionId === undefined ? {} : { session_id: sessionId }),
        ...fields,
      });
    try {
      if (action === 'broadcast') {
        const count = await this.#app.broadcast(text!);
        answer({ status: 'success', count });
        return;
      }
      const isDone =
        action === 'send_message'
          ? await this.#app.send(sessionId!, text!)
          : await this.#app.kick(sessionId!, KICK_MESSAGE);
      answer(isDone ? { status: 'success' } : { status: 'error', error: 'Session not found' });
    } catch (err) {
      this.#logger.error(
        { err, viewer: viewer.address, session: sessionId, action },
        'monitor: operator action failed',
      );
      answer({ status: 'error', error: 'The action failed; see the server log' });
    }
  }

  #started(info: SessionInfo, isLocal = true): void {
    const tracked: Tracked = {
      id: info.id,
      startedAt: info.startedAt,
      info: isLocal ? undefined : { ...info },
      screen: isLocal ? new SessionScreen(info.terminal, this.#replayLog) : undefined,
      isWatchedElsewhere: false,
      watchers: undefined,
      sentCounts: undefined,
      older: undefined,
      newer: undefined,
    };
    const previous = this.#sessions.get(info.id);
    if (previous !== undefined) this.#forgetSession(previous);
    this.#sessions.set(info.id, tracked);
    this.#link(tracked);
    if (this.#viewers.size === 0) return;
    this.#toAll(JSON.stringify({ type: 'session_started', session: describe(info, 'connected', true) }));
  }

  #ended(info: SessionInfo, reason: SessionEndReason): void {
    const tracked = this.#sessions.get(info.id);
    if (tracked !== undefined) {
      this.#sessions.delete(info.id);
      this.#forgetSession(tracked);
      if (tracked.watchers !== undefined) {
        for (const viewer of tracked.watchers) {
          viewer.watching.delete(info.id);
          viewer.remote.get(info.id)?.stop();
          viewer.remote.delete(info.id);
          this.#release(viewer, info.id);
        }
      }
    }
    if (this.#viewers.size === 0) return;
    // Newest when no session still tracked started after it.
    const isNewest = this.#newest === undefined || this.#newest.startedAt <= info.startedAt;
    this.#toAll(JSON.stringify({ type: 'session_ended', session: describe(info, 'disconnected', isNewest, reason) }));
  }

  #output(sessionId: string, text: string): void {
    const tracked = this.#sessions.get(sessionId);
    if (tracked === undefined) return;
    const seq = tracked.screen!.write(text);
    if (tracked.watchers === undefined) return;
    this.#toWatchers(sessionId, tracked.watchers, seq, {
      type: 'server_message',
      session_id: sessionId,
      data: { text },
    });
  }

  #input({ sessionId, kind, hidden, text }: SessionEventMap['input']): void {
    const watchers = this.#sessions.get(sessionId)?.watchers;
    if (watchers === undefined) return;
    const data = inputData({ kind, hidden, text });
    this.#toWatchers(sessionId, watchers, undefined, { type: 'client_input', session_id: sessionId, data });
  }

  #terminal(sessionId: string, terminal: TerminalSummary): void {
    const tracked = this.#sessions.get(sessionId);
    if (tracked === undefined) return;
    if (tracked.info !== undefined) tracked.info.terminal = { ...terminal };
    tracked.screen?.resize(terminal);
    if (this.#viewers.size > 0) void this.#updated(sessionId);
  }

  #user(sessionId: string, user: string | undefined): void {
    const tracked = this.#sessions.get(sessionId);
    if (tracked === undefined) return;
    if (tracked.info !== undefined) tracked.info.user = user;
    if (this.#viewers.size > 0) void this.#updated(sessionId);
  }

  /** Tells every viewer a session's terminal or user changed, with its byte counts as of now. */
  async #updated(sessionId: string): Promise<void> {
    let counts: SessionInfo | undefined;
    try {
      counts = await this.#app.get(sessionId);
    } catch (err) {
      this.#logger.error(
        { err, session: sessionId },
        'monitor: session could not be read; byte counts are as of its start',
      );
    }
    // Gone meanwhile: its session_ended has been sent, and nothing may follow it.
    const tracked = this.#sessions.get(sessionId);
    if (tracked === undefined) return;
    const info = this.#summary(tracked, counts);
    if (info === undefined) return;
    this.#toAll(
      JSON.stringify({ type: 'session_updated', session: describe(info, 'connected', tracked === this.#newest) }),
    );
  }

  /** Tells viewers the sessions whose byte counts or last input changed since they last heard. */
  async #refreshCounts(): Promise<void> {
    if (this.#viewers.size === 0) return;
    let current: SessionInfo[];
    try {
      current = await this.#app.list();
    } catch (err) {
      this.#logger.error({ err }, 'monitor: sessions could not be listed; byte counts not refreshed');
      return;
    }
    for (const info of current) {
      const tracked = this.#sessions.get(info.id);
      if (tracked === undefined) continue;
      const counts = `${info.bytesIn}/${info.bytesOut}/${info.lastInputAt}`;
      if (counts === tracked.sentCounts) continue;
      tracked.sentCounts = counts;
      const session = describe(this.#summary(tracked, info)!, 'connected', tracked === this.#newest);
      this.#toAll(JSON.stringify({ type: 'session_updated', session }));
    }
  }

  /** Takes the events held for `viewer` while a snapshot of `sessionId` was being made. */
  #release(viewer: Viewer, sessionId: string): Held[] {
    const held = viewer.held.get(sessionId) ?? [];
    viewer.held.delete(sessionId);
    for (const { message } of held) viewer.heldLength -= message.length;
    return held;
  }

  #toAll(message: string): void {
    for (const viewer of this.#viewers) if (viewer.isReady) this.#send(viewer, message);
  }

  #toWatchers(sessionId: string, watchers: Iterable<Viewer>, seq: number | undefined, event: object): void {
    const message = JSON.stringify(event);
    for (const viewer of watchers) {
      const held = viewer.held.get(sessionId);
      if (held === undefined) {
        this.#send(viewer, message);
        continue;
      }
      held.push({ seq, message });
      viewer.heldLength += message.length;
      if (viewer.heldLength > MAX_VIEWER_BACKLOG) this.#drop(viewer);
    }
  }

  #reply(viewer: Viewer, message: object): void {
    this.#send(viewer, JSON.stringify(message));
  }

  /** Sends without waiting: a viewer that does not read is dropped, never waited for. */
  #send(viewer: Viewer, message: string): void {
    if (viewer.ws.readyState !== WebSocket.OPEN || !this.#viewers.has(viewer)) return;
    if (viewer.ws.bufferedAmount + viewer.heldLength > MAX_VIEWER_BACKLOG) {
      this.#drop(viewer);
      return;
    }
    viewer.ws.send(message);
  }

  #drop(viewer: Viewer): void {
    this.#logger.warn(
      { viewer: viewer.address, buffered: viewer.ws.bufferedAmount + viewer.heldLength },
      'monitor: viewer too slow; dropped',
    );
    this.#forget(viewer);
    void closeViewer(viewer.ws, 1008, 'Viewer too slow');
  }

  /** Lets go of a viewer that left or was dropped; idempotent. */
  #forget(viewer: Viewer): void {
    if (!this.#viewers.delete(viewer)) return;
    if (this.#viewers.size === 0) {
      this.#unsubscribeInput?.();
      this.#unsubscribeInput = undefined;
    }
    for (const sessionId of [...viewer.watching]) this.#unwatch(viewer, sessionId, 'viewer-left');
    this.#logger.info({ viewer: viewer.address }, 'monitor: viewer disconnected');
  }

  #audit(viewer: Viewer, action: string, sessionId: string | undefined): void {
    this.#logger.info({ audit: true, viewer: viewer.address, session: sessionId, action }, 'monitor audit');
  }

  /** One line to a session's user, when monitor_notice asks for it. */
  #tell(sessionId: string, text: string): void {
    if (!this.#notice) return;
    this.#app.send(sessionId, text).catch((err: unknown) => {
      this.#logger.error({ err, session: sessionId }, 'monitor: the watch notice could not be sent');
    });
  }

  /** Takes a session out of start order and lets go of its screen. */
  #forgetSession(tracked: Tracked): void {
    this.#unlink(tracked);
    this.#detach(tracked);
    tracked.screen?.dispose();
  }

  /**
   * A session's summary for viewers: this process's as the hub has it now (`current`, or asked
   * for; undefined once it has left the hub, ending), another instance's as its events told,
   * with the hub's counts.
   */
  #summary(tracked: Tracked, current: SessionInfo | undefined): SessionInfo | undefined {
    if (tracked.info === undefined) return current ?? this.#app.getNow(tracked.id);
    return withCounts(tracked.info, current);
  }

  /** Lets go of a session's screen model, if it has one. */
  #detach(tracked: Tracked): void {
    if (tracked.screen?.isAttached !== true) return;
    tracked.screen.detach();
    this.#screens--;
  }

  /**
   * Places a session that just started in start order: after every session that started before
   * or at the same time, so normally last. Only a wall clock set back walks further.
   */
  #link(tracked: Tracked): void {
    let older = this.#newest;
    let newer: Tracked | undefined;
    while (older !== undefined && older.startedAt > tracked.startedAt) {
      newer = older;
      older = older.older;
    }
    tracked.older = older;
    tracked.newer = newer;
    if (older !== undefined) older.newer = tracked;
    if (newer !== undefined) newer.older = tracked;
    else this.#newest = tracked;
  }

  #unlink(tracked: Tracked): void {
    const { older, newer } = tracked;
    if (older !== undefined) older.newer = newer;
    if (newer !== undefined) newer.older = older;
    else if (this.#newest === tracked) this.#newest = older;
    tracked.older = undefined;
    tracked.newer = undefined;
  }
}

/** A session as the wire protocol shows it. */
function describe(
  info: SessionInfo,
  status: 'connected' | 'disconnected',
  isNewest: boolean,
  reason?: SessionEndReason,
) {
  return {
    id: info.id,
    client: { host: info.remoteAddress, port: info.remotePort },
    start_time: new Date(info.startedAt).toISOString(),
    status,
    is_newest: isNewest,
    server: info.server,
    instance: info.instance,
    transport: info.transport,
    secure: info.secure,
    terminal: { type: info.terminal.type ?? null, cols: info.terminal.cols ?? null, rows: info.terminal.rows ?? null },
    user: info.user ?? null,
    bytes_in: info.bytesIn,
    bytes_out: info.bytesOut,
    last_input_time: new Date(info.lastInputAt).toISOString(),
    ...(reason === undefined ? {} : { reason }),
  };
}

/** Another instance's session as the monitor knows it, with the hub's current counts where the hub had them. */
function withCounts(info: SessionInfo, current: SessionInfo | undefined): SessionInfo {
  if (current === undefined) return info;
  return { ...info, bytesIn: current.bytesIn, bytesOut: current.bytesOut, lastInputAt: current.lastInputAt };
}

/** A viewer's view of input: hidden input (a password) is reported as such, never with its text. */
function inputData(input: { kind: 'line' | 'keys'; hidden: boolean; text: string | undefined }): object {
  return input.hidden ? { hidden: true, kind: input.kind } : { text: input.text, kind: input.kind };
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

/** A viewer's message, or what is wrong with it in plain English. */
function parseRequest(text: string): Request | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'That message is not valid JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'A message must be a JSON object';
  const request = value as Record<string, unknown>;
  if (typeof request.type !== 'string') return 'A message needs a "type" string';
  return request as Request;
}

/** Closes a viewer, and cuts it off if it does not complete the close handshake in time. */
function closeViewer(ws: WebSocket, code: number, reason: string): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS);
    timer.unref();
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close(code, reason);
  });
}
