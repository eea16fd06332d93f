// The monitor dashboard: live sessions over the monitor WebSocket, a watch view, operator actions, replays.

/** Delays before reconnecting, in seconds; the last one repeats. */
const RECONNECT_DELAYS = [1, 2, 4, 8, 15];
/** How long an ended session stays in the table, marked, before it goes. */
const ENDED_ROW_MS = 3000;
/** Typed lines kept beside the watched screen. */
const INPUT_LOG_SIZE = 50;
const NOTICE_MS = 6000;
const FONT_FAMILY = 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace';

const THEMES = {
  dark: { background: '#101216', foreground: '#d8dee9', cursor: '#d8dee9', selectionBackground: '#3b4252' },
  // xterm's default palette is made for a dark background; yellow and white vanish on a light one.
  light: {
    background: '#fbfbf9',
    foreground: '#1f2328',
    cursor: '#1f2328',
    selectionBackground: '#c8d7ea',
    black: '#1f2328',
    red: '#b42318',
    green: '#1a7f37',
    yellow: '#8a6100',
    blue: '#0550ae',
    magenta: '#8250df',
    cyan: '#116b73',
    white: '#6e7781',
    brightBlack: '#57606a',
    brightRed: '#d1242f',
    brightGreen: '#2da44e',
    brightYellow: '#9a6700',
    brightBlue: '#218bff',
    brightMagenta: '#a475f9',
    brightCyan: '#1b7c83',
    brightWhite: '#8c959f',
  },
};

/**
 * An asciicast recording (v2: absolute times; v3: intervals) as events on one time line, in
 * seconds. Gaps longer than the header's idle_time_limit are shortened to it, as asciinema does.
 */
export function parseCast(text) {
  const lines = text.split('\n');
  const header = JSON.parse(lines[0] ?? '');
  if (header.version !== 2 && header.version !== 3)
    throw new Error(`asciicast version ${header.version} is not supported`);
  const cols = header.version === 2 ? header.width : header.term?.cols;
  const rows = header.version === 2 ? header.height : header.term?.rows;
  const idleLimit = typeof header.idle_time_limit === 'number' ? header.idle_time_limit : Infinity;
  const events = [];
  let recorded = 0;
  let time = 0;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let event;
    try {
      event = JSON.parse(lines[i]);
    } catch (err) {
      // A recording still being written may end in half a line.
      if (i === lines.length - 1) break;
      throw new Error(`line ${i + 1} is not an event`, { cause: err });
    }
    const [at, type, data] = event;
    const gap = header.version === 2 ? at - recorded : at;
    recorded = header.version === 2 ? at : recorded + at;
    time += Math.min(Math.max(gap, 0), idleLimit);
    events.push({ time, type, data: String(data) });
  }
  return {
    cols: Number.isInteger(cols) && cols > 0 ? cols : 80,
    rows: Number.isInteger(rows) && rows > 0 ? rows : 24,
    title: typeof header.title === 'string' ? header.title : undefined,
    events,
    duration: time,
  };
}

/** Plays a parsed cast into an xterm Terminal with its timing, at a chosen speed. */
export class CastPlayer {
  #term;
  #cast;
  #index = 0;
  /** Seconds of the recording already played when the clock last started. */
  #position = 0;
  #startedAt = 0;
  #speed = 1;
  #timer = undefined;
  #onChange;

  /** `onChange()` is called when it starts, stops or ends. */
  constructor(term, cast, onChange = () => undefined) {
    this.#term = term;
    this.#cast = cast;
    this.#onChange = onChange;
    term.reset();
    term.resize(cast.cols, cast.rows);
  }

  get duration() {
    return this.#cast.duration;
  }

  get isPlaying() {
    return this.#timer !== undefined;
  }

  get isAtEnd() {
    return this.#index >= this.#cast.events.length;
  }

  /** Seconds of the recording played so far. */
  get position() {
    if (!this.isPlaying) return this.#position;
    return Math.min(this.#position + ((performance.now() - this.#startedAt) / 1000) * this.#speed, this.duration);
  }

  get speed() {
    return this.#speed;
  }

  set speed(speed) {
    const wasPlaying = this.isPlaying;
    this.pause();
    this.#speed = speed;
    if (wasPlaying) this.play();
  }

  play() {
    if (this.isPlaying) return;
    if (this.isAtEnd) this.#rewind();
    this.#startedAt = performance.now();
    this.#timer = 0;
    this.#step();
    this.#onChange();
  }

  pause() {
    if (!this.isPlaying) return;
    this.#position = this.position;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#onChange();
  }

  /** Shows the rest of the recording at once. */
  skipToEnd() {
    this.pause();
    this.#playUntil(Infinity);
    this.#position = this.duration;
    this.#onChange();
  }

  restart() {
    this.pause();
    this.#rewind();
    this.play();
  }

  /** Stops for good, leaving the terminal as it is. */
  stop() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #rewind() {
    this.#term.reset();
    this.#term.resize(this.#cast.cols, this.#cast.rows);
    this.#index = 0;
    this.#position = 0;
  }

  #step() {
    const position = this.position;
    this.#playUntil(position);
    if (this.isAtEnd) {
      this.#position = this.duration;
      this.#timer = undefined;
      this.#onChange();
      return;
    }
    const wait = ((this.#cast.events[this.#index].time - position) / this.#speed) * 1000;
    this.#timer = setTimeout(() => this.#step(), Math.max(wait, 0));
  }

  /** Writes every event up to `time`, output batched into one write. */
  #playUntil(time) {
    const { events } = this.#cast;
    let output = '';
    for (; this.#index < events.length && events[this.#index].time <= time; this.#index++) {
      const { type, data } = events[this.#index];
      if (type === 'o') {
        output += data;
      } else if (type === 'r') {
        const [cols, rows] = data.split('x').map(Number);
        if (output !== '') this.#term.write(output);
        output = '';
        if (cols > 0 && rows > 0) this.#term.resize(cols, rows);
      }
      // "i" (input), "m" (markers) and "x" (exit) are not part of the screen.
    }
    if (output !== '') this.#term.write(output);
  }
}

/** "42s", "3m 05s", "2h 03m", "3d 04h". */
function formatDuration(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, '0');
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${pad(seconds % 60)}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${pad(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86400)}d ${pad(Math.floor(seconds / 3600) % 24)}h`;
}

function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** Keys typed in character mode, made visible: control keys by name, not as raw bytes. */
function describeKeys(text) {
  const names = { '\r': '⏎', '\n': '⏎', '\t': '⇥', '\x7f': '⌫', '\b': '⌫', '\x1b': 'Esc' };
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0);
    if (names[char] !== undefined) out += names[char];
    else if (code < 32) out += `^${String.fromCharCode(code + 64)}`;
    else out += char;
  }
  return out;
}

function formatAddress(client) {
  if (client === undefined || client === null) return '—';
  // An IPv4 client of a dual-stack listener is reported as ::ffff:a.b.c.d.
  const host = String(client.host ?? '').replace(/^::ffff:(?=\d+\.)/, '');
  const shown = host.includes(':') ? `[${host}]` : host;
  return client.port === undefined || client.port === null ? shown : `${shown}:${client.port}`;
}

function formatSize(terminal) {
  return terminal?.cols && terminal?.rows ? `${terminal.cols}×${terminal.rows}` : '—';
}

function describeReason(reason) {
  return typeof reason === 'string' && reason !== '' ? reason.replaceAll('-', ' ') : 'ended';
}

function timeOf(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

function clockTime(ms) {
  return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
}

function element(tag, properties = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, properties);
  node.append(...children);
  return node;
}

function systemTheme() {
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? THEMES.dark : THEMES.light;
}

function newTerminal(root) {
  const term = new Terminal({
    cols: 80,
    rows: 24,
    disableStdin: true,
    cursorBlink: false,
    fontFamily: FONT_FAMILY,
    fontSize: 13,
    scrollback: 1000,
    theme: systemTheme(),
  });
  term.open(root);
  return term;
}

/** The monitor WebSocket: connects, tells apart a refused token from a lost server, reconnects. */
class MonitorConnection {
  #path;
  #base;
  #handlers;
  #socket = undefined;
  #attempt = 0;
  #retry = undefined;
  token;

  /** `handlers`: onMessage(message), onState(state, detail), onOpen(). */
  constructor({ path, base, token, handlers }) {
    this.#path = path;
    this.#base = base;
    this.token = token;
    this.#handlers = handlers;
  }

  /** Headers that carry the token to the dashboard's HTTP routes. */
  get authorization() {
    return this.token === undefined ? {} : { Authorization: `Bearer ${this.token}` };
  }

  connect() {
    clearTimeout(this.#retry);
    this.#socket?.close();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const query = this.token === undefined ? '' : `?token=${encodeURIComponent(this.token)}`;
    const socket = new WebSocket(`${scheme}://${location.host}${this.#path}${query}`);
    this.#socket = socket;
    let isOpen = false;
    this.#handlers.onState('connecting');
    socket.addEventListener('open', () => {
      isOpen = true;
      this.#attempt = 0;
      this.#handlers.onOpen();
    });
    socket.addEventListener('message', (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.#handlers.onMessage(message);
    });
    socket.addEventListener('close', (event) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      // A browser does not show a refused handshake's status; ask the server what the token allows.
      if (!isOpen) void this.#diagnose();
      else this.#reconnectLater(`the connection closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`);
    });
  }

  send(message) {
    if (this.#socket?.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  async #diagnose() {
    let status;
    try {
      status = (await fetch(`${this.#base}/access`, { headers: this.authorization, cache: 'no-store' })).status;
    } catch {
      status = 0;
    }
    if (status === 401) this.#handlers.onState(this.token === undefined ? 'token-needed' : 'token-refused');
    else this.#reconnectLater(status === 0 ? 'the server cannot be reached' : 'the server refused the connection');
  }

  #reconnectLater(why) {
    const delay = RECONNECT_DELAYS[Math.min(this.#attempt, RECONNECT_DELAYS.length - 1)];
    this.#attempt++;
    this.#handlers.onState('reconnecting', `${why}; trying again in ${delay} s`);
    this.#retry = setTimeout(() => this.connect(), delay * 1000);
  }
}

/** The live table of sessions, with its filters and the ticking times. */
class SessionTable {
  #body;
  #empty;
  #count;
  #transportFilter;
  #textFilter;
  /** id → { session, row, cells, removal } */
  #rows = new Map();
  #onSelect;
  #selected = undefined;

  constructor({ body, empty, count, transportFilter, textFilter, onSelect }) {
    this.#body = body;
    this.#empty = empty;
    this.#count = count;
    this.#transportFilter = transportFilter;
    this.#textFilter = textFilter;
    this.#onSelect = onSelect;
    transportFilter.addEventListener('change', () => this.#applyFilter());
    textFilter.addEventListener('input', () => this.#applyFilter());
  }

  get(id) {
    return this.#rows.get(id)?.session;
  }

  /** Replaces every row with the sessions of a fresh connection. */
  reset(sessions) {
    const ids = new Set(sessions.map((session) => session.id));
    for (const [id, entry] of this.#rows) if (!ids.has(id)) this.#remove(id, entry);
    for (const session of sessions) this.upsert(session);
  }

  upsert(session) {
    let entry = this.#rows.get(session.id);
    if (entry === undefined) {
      entry = this.#newRow(session);
      this.#rows.set(session.id, entry);
      this.#insertInOrder(entry);
    }
    entry.session = { ...entry.session, ...session };
    this.#fill(entry);
    this.#applyFilter();
  }

  /** Marks the row as ended and removes it a little later, so the operator sees it go. */
  end(session) {
    const entry = this.#rows.get(session.id);
    if (entry === undefined) return;
    entry.session = { ...entry.session, ...session, status: 'disconnected' };
    entry.row.classList.add('ended');
    entry.row.title = `Ended: ${describeReason(session.reason)}`;
    this.#fill(entry);
    clearTimeout(entry.removal);
    entry.removal = setTimeout(() => this.#remove(session.id, entry), ENDED_ROW_MS);
    this.#updateCount();
  }

  /** Notes input seen while watching, so that the idle time restarts without waiting for the server. */
  touch(id) {
    const entry = this.#rows.get(id);
    if (entry === undefined) return;
    entry.session.last_input_time = new Date().toISOString();
    this.#fillTimes(entry);
  }

  select(id) {
    this.#selected = id;
    for (const [rowId, { row }] of this.#rows) row.setAttribute('aria-current', String(rowId === id));
  }

  /** Updates the times that tick: how long connected, how long idle. */
  tick() {
    for (const entry of this.#rows.values()) this.#fillTimes(entry);
  }

  #newRow(session) {
    const cells = {};
    const row = element('tr', { tabIndex: 0 });
    row.dataset.id = session.id;
    for (const [name, label] of [
      ['id', 'Session'],
      ['transport', 'Transport'],
      ['server', 'Server'],
      ['address', 'Address'],
      ['user', 'User'],
      ['terminal', 'Terminal'],
      ['size', 'Size'],
      ['duration', 'Connected'],
      ['idle', 'Idle'],
      ['bytesIn', 'In'],
      ['bytesOut', 'Out'],
    ]) {
      cells[name] = element('td', { className: `cell-${name}` });
      cells[name].dataset.label = label;
      row.append(cells[name]);
    }
    row.setAttribute('aria-current', String(session.id === this.#selected));
    row.addEventListener('click', () => this.#onSelect(session.id));
    row.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' && event.key !== ' ') return;
      event.preventDefault();
      this.#onSelect(session.id);
    });
    return { session, row, cells, removal: undefined };
  }

  /** Newest sessions first: the one that just arrived is where the eye is. */
  #insertInOrder(entry) {
    const started = timeOf(entry.session.start_time) ?? Date.now();
    const older = [...this.#body.rows].find(
      (row) => (timeOf(this.#rows.get(row.dataset.id)?.session.start_time) ?? 0) < started,
    );
    this.#body.insertBefore(entry.row, older ?? null);
  }

  #fill(entry) {
    const { session, cells } = entry;
    cells.id.textContent = session.id;
    cells.transport.textContent = session.secure ? `${session.transport} (TLS)` : session.transport;
    cells.server.textContent = session.server ?? '—';
    cells.address.textContent = formatAddress(session.client);
    cells.user.textContent = session.user ?? '—';
    cells.terminal.textContent = session.terminal?.type ?? '—';
    cells.size.textContent = formatSize(session.terminal);
    cells.bytesIn.textContent = formatBytes(session.bytes_in);
    cells.bytesOut.textContent = formatBytes(session.bytes_out);
    this.#fillTimes(entry);
  }

  #fillTimes({ session, cells, row }) {
    if (row.classList.contains('ended')) {
      cells.idle.textContent = describeReason(session.reason);
      return;
    }
    const now = Date.now();
    const started = timeOf(session.start_time);
    const lastInput = timeOf(session.last_input_time) ?? started;
    cells.duration.textContent = started === undefined ? '—' : formatDuration(now - started);
    cells.idle.textContent = lastInput === undefined ? '—' : formatDuration(now - lastInput);
  }

  #remove(id, entry) {
    clearTimeout(entry.removal);
    entry.row.remove();
    this.#rows.delete(id);
    this.#applyFilter();
  }

  #applyFilter() {
    const transport = this.#transportFilter.value;
    const words = this.#textFilter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const { session, row } of this.#rows.values()) {
      const haystack = [
        session.id,
        session.server,
        session.transport,
        formatAddress(session.client),
        session.user,
        session.terminal?.type,
      ]
        .filter((part) => typeof part === 'string')
        .join(' ')
        .toLowerCase();
      const isShown =
        (transport === '' || session.transport === transport) && words.every((word) => haystack.includes(word));
      row.hidden = !isShown;
      if (isShown) shown++;
    }
    this.#empty.hidden = shown > 0;
    this.#empty.textContent = this.#rows.size === 0 ? 'No sessions yet.' : 'No session matches the filter.';
    this.#updateCount();
  }

  #updateCount() {
    let live = 0;
    for (const { row } of this.#rows.values()) if (!row.classList.contains('ended')) live++;
    this.#count.textContent = String(live);
  }
}

/** One watched session: its screen as the user sees it, and what the user typed. */
class WatchView {
  #elements;
  #term = undefined;
  /** The session watched (or asked for); undefined when the view is closed. */
  #id = undefined;
  #hasSnapshot = false;
  #isEnded = false;
  /** Entries of keys typed since the last completed line. */
  #keyEntries = [];

  constructor(elements) {
    this.#elements = elements;
  }

  get id() {
    return this.#id;
  }

  get terminal() {
    return this.#term;
  }

  get isLive() {
    return this.#id !== undefined && !this.#isEnded;
  }

  /** Opens the view for `session`; the caller sends watch_session. */
  open(session) {
    const { panel, log } = this.#elements;
    this.#id = session.id;
    this.#hasSnapshot = false;
    this.#isEnded = false;
    this.#keyEntries = [];
    log.replaceChildren();
    panel.hidden = false;
    this.#term ??= newTerminal(this.#elements.screen);
    this.#term.reset();
    this.#resize(session.terminal);
    this.describe(session);
    this.#setState('Connecting to the session…');
    this.#elements.stop.textContent = 'Stop watching';
  }

  close() {
    this.#id = undefined;
    this.#elements.panel.hidden = true;
  }

  describe(session) {
    const parts = [session.transport, formatAddress(session.client), session.user].filter(
      (part) => part && part !== '—',
    );
    this.#elements.title.textContent = `Session ${session.id}`;
    this.#elements.subtitle.textContent = parts.join(' · ');
    if (this.#hasSnapshot) this.#resize(session.terminal);
  }

  /** The answer to watch_session. */
  answered(message) {
    if (message.status === 'success') this.#setState('Live');
    else if (message.status === 'error') this.#stopped(`Cannot watch: ${message.error ?? 'no reason given'}`);
  }

  snapshot({ text, cols, rows }) {
    this.#hasSnapshot = true;
    this.#term.reset();
    this.#resize({ cols, rows });
    this.#term.write(text ?? '');
  }

  /** What the user's terminal was sent. */
  output(text) {
    // Output before the snapshot is already part of it.
    if (this.#hasSnapshot && typeof text === 'string') this.#term.write(text);
  }

  /**
   * What the user typed. In character mode the keys of each read come first and the completed
   * line after them: the line replaces its keys, so a line is listed once; keys that never make
   * a line (a game, a menu) stay, one entry per Enter.
   */
  input({ text, kind, hidden }) {
    const { log } = this.#elements;
    const shown = hidden ? '(hidden input)' : kind === 'keys' ? describeKeys(String(text ?? '')) : String(text ?? '');
    if (kind === 'keys') {
      let current = this.#keyEntries.at(-1);
      if (
        current === undefined ||
        current.dataset.done === 'true' ||
        current.dataset.hidden !== String(Boolean(hidden))
      ) {
        current = this.#entry(hidden ? 'hidden-input' : 'keys', '');
        current.dataset.hidden = String(Boolean(hidden));
        this.#keyEntries.push(current);
      }
      const span = current.lastElementChild;
      span.textContent = hidden ? shown : span.textContent + shown;
      if (/[\r\n]/.test(String(text ?? ''))) current.dataset.done = 'true';
    } else {
      for (const entry of this.#keyEntries.splice(0)) entry.remove();
      this.#entry(hidden ? 'hidden-input' : 'line', shown);
    }
    while (log.childElementCount > INPUT_LOG_SIZE) log.firstElementChild.remove();
    this.#keyEntries = this.#keyEntries.filter((entry) => entry.isConnected);
    log.parentElement.scrollTop = log.parentElement.scrollHeight;
  }

  #entry(className, text) {
    const entry = element('li', { className }, [
      element('time', { textContent: clockTime(Date.now()) }),
      element('span', { textContent: text }),
    ]);
    this.#elements.log.append(entry);
    return entry;
  }

  ended(why) {
    this.#stopped(`Ended: ${why}`);
  }

  #stopped(state) {
    this.#isEnded = true;
    this.#setState(state);
    this.#elements.stop.textContent = 'Close';
  }

  setTheme(theme) {
    if (this.#term !== undefined) this.#term.options.theme = theme;
  }

  #resize(terminal) {
    const cols = terminal?.cols;
    const rows = terminal?.rows;
    if (Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0) {
      if (cols !== this.#term.cols || rows !== this.#term.rows) this.#term.resize(cols, rows);
    }
  }

  #setState(text) {
    this.#elements.state.textContent = text;
    this.#elements.panel.dataset.state = this.#isEnded ? 'ended' : 'live';
  }
}

/** The recordings tab: the list, fetched with the token, and one replay at a time. */
class RecordingsView {
  #base;
  #elements;
  #connection;
  #onTokenNeeded;
  #term = undefined;
  #player = undefined;
  #progress = undefined;

  constructor({ base, elements, connection, onTokenNeeded }) {
    this.#base = base;
    this.#elements = elements;
    this.#connection = connection;
    this.#onTokenNeeded = onTokenNeeded;
    const { toggle, restart, speed, end, close } = elements;
    toggle.addEventListener('click', () => {
      if (this.#player?.isPlaying) this.#player.pause();
      else this.#player?.play();
    });
    restart.addEventListener('click', () => this.#player?.restart());
    speed.addEventListener('change', () => {
      if (this.#player !== undefined) this.#player.speed = Number(speed.value);
    });
    end.addEventListener('click', () => this.#player?.skipToEnd());
    close.addEventListener('click', () => this.#closeReplay());
  }

  get terminal() {
    return this.#term;
  }

  get player() {
    return this.#player;
  }

  async load() {
    const { status, table } = this.#elements;
    status.textContent = 'Loading recordings…';
    let response;
    try {
      response = await this.#fetch('recordings');
    } catch {
      status.textContent = 'The recordings could not be loaded: the server cannot be reached.';
      return;
    }
    if (response.status === 401) {
      status.textContent = 'Recordings need a monitor token.';
      this.#onTokenNeeded();
      return;
    }
    if (response.status === 404) {
      table.hidden = true;
      status.textContent = 'This server does not record sessions (record_sessions is not set).';
      return;
    }
    if (!response.ok) {
      status.textContent = `The recordings could not be loaded: ${(await response.text()).trim()}`;
      return;
    }
    this.#show(await response.json());
  }

  setTheme(theme) {
    if (this.#term !== undefined) this.#term.options.theme = theme;
  }

  #show(recordings) {
    const { status, table } = this.#elements;
    const rows = recordings.map((recording) => {
      const play = element('button', { type: 'button', textContent: 'Play' });
      play.addEventListener('click', () => void this.#play(recording));
      const started = element('td', { textContent: new Date(recording.startedAt).toLocaleString() });
      const session = element('td', { textContent: recording.sessionId, className: 'cell-id' });
      const size = element('td', { textContent: formatBytes(recording.bytes), className: 'number' });
      started.dataset.label = 'Started';
      session.dataset.label = 'Session';
      size.dataset.label = 'Size';
      const row = element('tr', {}, [started, session, size, element('td', {}, [play])]);
      row.dataset.file = recording.file;
      return row;
    });
    table.tBodies[0].replaceChildren(...rows);
    table.hidden = rows.length === 0;
    status.textContent =
      rows.length === 0
        ? 'No recordings yet: a session is recorded from its start.'
        : `${rows.length} recording${rows.length === 1 ? '' : 's'}, newest first.`;
  }

  async #play(recording) {
    const { status, replay, title, screen } = this.#elements;
    let cast;
    try {
      const response = await this.#fetch(`recordings/${encodeURIComponent(recording.file)}`);
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      cast = parseCast(await response.text());
    } catch (err) {
      status.textContent = `${recording.file} cannot be played: ${err.message}`;
      return;
    }
    this.#player?.stop();
    replay.hidden = false;
    title.textContent = `Recording of ${recording.sessionId}`;
    this.#term ??= newTerminal(screen);
    this.#player = new CastPlayer(this.#term, cast, () => this.#update());
    this.#player.speed = Number(this.#elements.speed.value);
    this.#player.play();
    replay.scrollIntoView({ block: 'nearest' });
  }

  #closeReplay() {
    this.#player?.stop();
    this.#player = undefined;
    this.#elements.replay.hidden = true;
    this.#update();
  }

  /** Keeps the controls and the clock in step with the player. */
  #update() {
    const player = this.#player;
    clearInterval(this.#progress);
    this.#progress = undefined;
    if (player === undefined) return;
    const { toggle, time } = this.#elements;
    const showTime = () => {
      time.textContent = `${formatClock(player.position)} / ${formatClock(player.duration)}`;
    };
    toggle.textContent = player.isPlaying ? 'Pause' : player.isAtEnd ? 'Play again' : 'Play';
    showTime();
    if (player.isPlaying) this.#progress = setInterval(showTime, 250);
  }

  #fetch(path) {
    return fetch(`${this.#base}/${path}`, { headers: this.#connection.authorization, cache: 'no-store' });
  }
}

function formatClock(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/** The page: wires the connection's messages to the table, the watch view and the notices. */
class Dashboard {
  #connection;
  #table;
  #watch;
  #recordings;
  #access = 'none';
  #noticeTimer = undefined;

  constructor() {
    const byId = (id) => document.getElementById(id);
    const { monitorPath, base } = document.body.dataset;
    const token = new URLSearchParams(location.search).get('token') ?? undefined;
    this.#connection = new MonitorConnection({
      path: monitorPath,
      base,
      token,
      handlers: {
        onOpen: () => this.#setStatus('connected', 'Connected, waiting for the session list…'),
        onMessage: (message) => this.#onMessage(message),
        onState: (state, detail) => this.#onConnectionState(state, detail),
      },
    });
    this.#table = new SessionTable({
      body: byId('sessions').tBodies[0],
      empty: byId('sessions-empty'),
      count: byId('session-count'),
      transportFilter: byId('filter-transport'),
      textFilter: byId('filter-text'),
      onSelect: (id) => this.#watchSession(id),
    });
    this.#watch = new WatchView({
      panel: byId('watch'),
      title: byId('watch-title'),
      subtitle: byId('watch-subtitle'),
      state: byId('watch-state'),
      screen: byId('watch-screen'),
      log: byId('input-log'),
      stop: byId('stop-watching'),
    });
    this.#recordings = new RecordingsView({
      base,
      connection: this.#connection,
      onTokenNeeded: () => this.#askForToken('This monitor needs a token.'),
      elements: {
        status: byId('recordings-status'),
        table: byId('recordings'),
        replay: byId('replay'),
        title: byId('replay-title'),
        time: byId('replay-time'),
        screen: byId('replay-screen'),
        toggle: byId('replay-toggle'),
        restart: byId('replay-restart'),
        speed: byId('replay-speed'),
        end: byId('replay-end'),
        close: byId('replay-close'),
      },
    });
    this.#wireControls(byId);
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
      this.#watch.setTheme(systemTheme());
      this.#recordings.setTheme(systemTheme());
    });
    setInterval(() => this.#table.tick(), 1000);
  }

  /** For tests and the curious: the terminals on the page. */
  get watchTerminal() {
    return this.#watch.terminal;
  }

  get replayTerminal() {
    return this.#recordings.terminal;
  }

  get player() {
    return this.#recordings.player;
  }

  start() {
    this.#connection.connect();
  }

  #wireControls(byId) {
    const tabs = { sessions: byId('tab-sessions'), recordings: byId('tab-recordings') };
    const views = { sessions: byId('sessions-view'), recordings: byId('recordings-view') };
    for (const [name, tab] of Object.entries(tabs)) {
      tab.addEventListener('click', () => {
        for (const other of Object.keys(tabs)) {
          tabs[other].setAttribute('aria-selected', String(other === name));
          views[other].hidden = other !== name;
        }
        if (name === 'recordings') void this.#recordings.load();
      });
    }
    byId('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = byId('token-input').value.trim();
      if (token === '') return;
      this.#connection.token = token;
      // The address bar keeps the token, so a reload reconnects as the printed dashboard URL does.
      const url = new URL(location.href);
      url.searchParams.set('token', token);
      history.replaceState(null, '', url);
      byId('token-form').hidden = true;
      this.#connection.connect();
      if (!byId('recordings-view').hidden) void this.#recordings.load();
    });
    byId('stop-watching').addEventListener('click', () => {
      const id = this.#watch.id;
      if (id !== undefined && this.#watch.isLive) this.#connection.send({ type: 'stop_watching', session_id: id });
      this.#watch.close();
      this.#table.select(undefined);
    });
    byId('broadcast-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = byId('broadcast-text');
      if (this.#act({ type: 'broadcast', text: input.value })) input.value = '';
    });
    byId('message-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = byId('message-text');
      if (this.#act({ type: 'send_message', session_id: this.#watch.id, text: input.value })) input.value = '';
    });
    byId('disconnect').addEventListener('click', () => {
      const id = this.#watch.id;
      if (id === undefined || !window.confirm(`Disconnect session ${id}?`)) return;
      this.#act({ type: 'disconnect', session_id: id });
    });
  }

  #watchSession(id) {
    const session = this.#table.get(id);
    if (session === undefined || session.status === 'disconnected') return;
    if (this.#watch.id === id && this.#watch.isLive) {
      this.#elementOf('watch').scrollIntoView({ block: 'nearest' });
      return;
    }
    if (this.#watch.isLive) this.#connection.send({ type: 'stop_watching', session_id: this.#watch.id });
    this.#watch.open(session);
    this.#table.select(id);
    this.#updateOperatorControls();
    this.#connection.send({ type: 'watch_session', session_id: id });
    this.#elementOf('watch').scrollIntoView({ block: 'nearest' });
  }

  #onMessage(message) {
    if (typeof message !== 'object' || message === null) return;
    // A session event without a session is a server bug; it must not break the page.
    const isSessionEvent = typeof message.type === 'string' && message.type.startsWith('session_');
    if (isSessionEvent && typeof message.session?.id !== 'string') return;
    const id = message.session_id;
    const isWatched = id !== undefined && id === this.#watch.id;
    switch (message.type) {
      case 'active_sessions': {
        this.#access = message.access === 'admin' ? 'admin' : 'viewer';
        this.#table.reset(Array.isArray(message.sessions) ? message.sessions : []);
        this.#setStatus(
          'connected',
          this.#access === 'admin' ? 'Connected, with operator actions' : 'Connected, watching only',
        );
        this.#updateOperatorControls();
        // After a reconnect, pick the watched session up again if it is still there.
        if (this.#watch.isLive) {
          const session = this.#table.get(this.#watch.id);
          if (session === undefined) this.#watch.ended('the session ended while the monitor was away');
          else this.#connection.send({ type: 'watch_session', session_id: session.id });
        }
        break;
      }
      case 'session_started':
      case 'session_updated':
        this.#table.upsert(message.session);
        if (message.session?.id === this.#watch.id) this.#watch.describe(this.#table.get(this.#watch.id));
        break;
      case 'session_ended':
        this.#table.end(message.session);
        if (message.session?.id === this.#watch.id) this.#watch.ended(describeReason(message.session.reason));
        this.#updateOperatorControls();
        break;
      case 'watch_response':
        if (isWatched && message.status !== 'stopped') this.#watch.answered(message);
        if (isWatched && message.status === 'error') this.#updateOperatorControls();
        break;
      case 'screen_snapshot':
        if (isWatched) this.#watch.snapshot(message.data ?? {});
        break;
      case 'server_message':
        if (isWatched) this.#watch.output(message.data?.text);
        break;
      case 'client_input':
        if (isWatched) {
          this.#watch.input(message.data ?? {});
          this.#table.touch(id);
        }
        break;
      case 'action_response':
        this.#notice(describeAction(message), message.status !== 'success');
        break;
      case 'error':
        this.#notice(`The monitor said: ${message.error}`, true);
        break;
      // Types from a newer server are for a newer page.
    }
  }

  #onConnectionState(state, detail) {
    if (state === 'connecting') this.#setStatus('connecting', 'Connecting to the monitor…');
    else if (state === 'reconnecting') this.#setStatus('disconnected', `Not connected: ${detail}.`);
    else if (state === 'token-needed') this.#askForToken('This monitor needs a token.');
    else if (state === 'token-refused') this.#askForToken('That token was not accepted.');
  }

  #askForToken(message) {
    this.#setStatus('disconnected', 'Not connected: a valid monitor token is needed.');
    this.#elementOf('token-message').textContent = message;
    this.#elementOf('token-form').hidden = false;
    this.#elementOf('token-input').focus();
  }

  #act(message) {
    if (this.#connection.send(message)) return true;
    this.#notice('Not connected: the action was not sent.', true);
    return false;
  }

  #updateOperatorControls() {
    const isAdmin = this.#access === 'admin';
    document.body.dataset.access = this.#access;
    this.#elementOf('broadcast-form').hidden = !isAdmin;
    this.#elementOf('session-actions').hidden = !isAdmin || !this.#watch.isLive;
  }

  #setStatus(state, text) {
    const status = this.#elementOf('status');
    status.dataset.state = state;
    status.textContent = text;
  }

  #notice(text, isError) {
    const notice = this.#elementOf('notice');
    notice.textContent = text;
    notice.dataset.kind = isError ? 'error' : 'success';
    notice.hidden = false;
    clearTimeout(this.#noticeTimer);
    this.#noticeTimer = setTimeout(() => {
      notice.hidden = true;
    }, NOTICE_MS);
  }

  #elementOf(id) {
    return document.getElementById(id);
  }
}

function describeAction({ action, status, error }) {
  const done = { send_message: 'Message sent.', broadcast: 'Broadcast sent.', disconnect: 'Session disconnected.' };
  const names = { send_message: 'The message', broadcast: 'The broadcast', disconnect: 'The disconnect' };
  if (status === 'success') return done[action] ?? `${action}: done.`;
  return `${names[action] ?? action} failed: ${error ?? 'no reason given'}.`;
}

function main() {
  if (document.getElementById('sessions') === null) return;
  const dashboard = new Dashboard();
  // Tests and the curious read the terminals from here.
  window.dashboard = dashboard;
  dashboard.start();
}

if (typeof document !== 'undefined') main();
