// Browser terminal: xterm.js on the session WebSocket, as plain text edited locally or as a telnet client (RFC 854).

// Telnet bytes (RFC 854, 855, 857, 858, 885, 1073, 1091), served from the server's own constants.
import {
  CR,
  DO,
  DONT,
  IAC,
  LF,
  NUL,
  OPT_ECHO,
  OPT_EOR,
  OPT_NAWS,
  OPT_SGA,
  OPT_TTYPE,
  SB,
  SE,
  TTYPE_IS,
  TTYPE_SEND,
  WILL,
  WONT,
} from './telnet-constants.js';
import { enableClipboard } from './clipboard.js';
import { ExtraKeys } from './extra-keys.js';
import { Preferences, THEMES, applyPreferences } from './preferences.js';
import { fitToViewport } from './viewport.js';
// Our WebSocket subprotocols and the resume parameter (docs/transports.md, "The control channel").
import { RESUME_PARAMETER, TELNET_CONTROL_SUBPROTOCOL, TEXT_CONTROL_SUBPROTOCOL } from './control-channel.js';

const TERMINAL_TYPE = 'XTERM-256COLOR';
/** Longest subnegotiation kept; the rest of a longer one is dropped. */
const MAX_SUBNEGOTIATION = 4096;
/** Options we perform when the server asks (DO): terminal type and window size. */
const LOCAL_OPTIONS = new Set([OPT_TTYPE, OPT_NAWS]);
/** Options we let the server perform (WILL): echo, no go-ahead, end-of-record prompts. */
const REMOTE_OPTIONS = new Set([OPT_ECHO, OPT_SGA, OPT_EOR]);

/** Seconds before each attempt to get a dropped session back: soon at first, then less often. */
const RECONNECT_DELAYS = [1, 2, 4, 8, 15];
/** A WebSocket that ended without a close frame (RFC 6455 section 7.1.5): the network dropped it. */
const CLOSE_ABNORMAL = 1006;

const encoder = new TextEncoder();
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Incremental telnet client: server bytes in, screen bytes and replies out.
 * A sequence cut between frames waits for the next one; each request is answered once.
 */
export class TelnetClient {
  #state = 'data';
  #verb = 0;
  #subOption = 0;
  #sub = [];
  #isAfterCr = false;
  /** Option → 'on' | 'refused', for our side (WILL/WONT) and the server's (DO/DONT). */
  #local = new Map();
  #remote = new Map();
  #cols = 80;
  #rows = 24;

  /** Parses one frame; `data` is terminal output, `reply` goes back to the server (maybe empty). */
  receive(chunk) {
    const data = new Uint8Array(chunk.length);
    let length = 0;
    const reply = [];
    let isEchoChanged = false;
    for (const byte of chunk) {
      switch (this.#state) {
        case 'data':
          if (byte === IAC) this.#state = 'iac';
          // RFC 854: CR NUL is a bare carriage return; the NUL is padding.
          else if (!(byte === NUL && this.#isAfterCr)) data[length++] = byte;
          this.#isAfterCr = byte === CR;
          break;
        case 'iac':
          if (byte === IAC) {
            data[length++] = IAC;
            this.#state = 'data';
          } else if (byte >= WILL && byte <= DONT) {
            this.#verb = byte;
            this.#state = 'option';
          } else if (byte === SB) {
            this.#state = 'sb-option';
          } else {
            // GA, EOR, NOP, DM and the rest ask nothing of a client.
            this.#state = 'data';
          }
          break;
        case 'option':
          if (this.#negotiate(this.#verb, byte, reply) && byte === OPT_ECHO) isEchoChanged = true;
          this.#state = 'data';
          break;
        case 'sb-option':
          this.#subOption = byte;
          this.#sub = [];
          this.#state = 'sb';
          break;
        case 'sb':
          if (byte === IAC) this.#state = 'sb-iac';
          else if (this.#sub.length < MAX_SUBNEGOTIATION) this.#sub.push(byte);
          break;
        case 'sb-iac':
          if (byte === SE) {
            this.#subnegotiation(this.#subOption, this.#sub, reply);
            this.#state = 'data';
          } else {
            // IAC IAC is a data 255 inside SB too; anything else is a peer error we skip.
            if (byte === IAC && this.#sub.length < MAX_SUBNEGOTIATION) this.#sub.push(IAC);
            this.#state = 'sb';
          }
          break;
      }
    }
    return { data: data.subarray(0, length), reply: Uint8Array.from(reply), isEchoChanged };
  }

  /** Whether the server performs `option` (ECHO: it echoes and edits the line). */
  isRemoteOn(option) {
    return this.#remote.get(option) === 'on';
  }

  /** Remembers the window size; returns the NAWS report to send, or undefined before NAWS is on. */
  resize(cols, rows) {
    this.#cols = cols;
    this.#rows = rows;
    return this.#local.get(OPT_NAWS) === 'on' ? Uint8Array.from(this.#naws()) : undefined;
  }

  /** Keystrokes as telnet data: UTF-8, IAC doubled, a lone CR (Enter) sent as CR NUL (RFC 854). */
  static encodeKeys(text) {
    const bytes = encoder.encode(text);
    const out = [];
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i];
      out.push(byte);
      if (byte === IAC) out.push(IAC);
      else if (byte === CR && bytes[i + 1] !== LF) out.push(NUL);
    }
    return Uint8Array.from(out);
  }

  /** Returns whether the option's state changed. */
  #negotiate(verb, option, reply) {
    const isLocal = verb === DO || verb === DONT;
    const states = isLocal ? this.#local : this.#remote;
    const isSupported = (isLocal ? LOCAL_OPTIONS : REMOTE_OPTIONS).has(option);
    const state = states.get(option);
    const [yes, no] = isLocal ? [WILL, WONT] : [DO, DONT];
    if (verb === DO || verb === WILL) {
      // A request for what is already on is its acknowledgement; a refused one is not answered twice.
      if (state === 'on' || (!isSupported && state === 'refused')) return false;
      states.set(option, isSupported ? 'on' : 'refused');
      reply.push(IAC, isSupported ? yes : no, option);
      if (isSupported && option === OPT_NAWS && isLocal) reply.push(...this.#naws());
      return isSupported;
    }
    if (state !== 'on') return false;
    states.delete(option);
    reply.push(IAC, no, option);
    return true;
  }

  #subnegotiation(option, payload, reply) {
    if (option === OPT_TTYPE && payload[0] === TTYPE_SEND && this.#local.get(OPT_TTYPE) === 'on') {
      reply.push(IAC, SB, OPT_TTYPE, TTYPE_IS, ...encoder.encode(TERMINAL_TYPE), IAC, SE);
    }
  }

  #naws() {
    const size = [this.#cols >> 8, this.#cols & 255, this.#rows >> 8, this.#rows & 255];
    // RFC 1073: a 255 in the size is doubled like any other.
    return [IAC, SB, OPT_NAWS, ...size.flatMap((byte) => (byte === IAC ? [IAC, IAC] : [byte])), IAC, SE];
  }
}

/**
 * The line being typed, edited and echoed in the page, for servers that do not echo.
 * It knows where the line starts on screen, so it can erase wide and wrapped characters.
 */
export class LineEditor {
  #term;
  #onLine;
  #onControl;
  /** Grapheme clusters of the line. */
  #units = [];
  #startCol = undefined;
  /** True while server output is on its way to the screen; the line is off screen meanwhile. */
  #isSuspended = false;
  #history = [];
  #historyIndex = 0;
  #draft = '';
  /** The server asked for hidden input (a password): typing is not shown, nor kept in history. */
  #isHidden = false;

  /** `onLine(text)` gets each entered line; `onControl(char)` gets Ctrl-C or Ctrl-D typed on an empty line. */
  constructor(term, onLine, onControl) {
    this.#term = term;
    this.#onLine = onLine;
    this.#onControl = onControl;
  }

  get text() {
    return this.#units.join('');
  }

  /** Hides typing from now on, or shows it again; a line half typed is dropped either way. */
  set hidden(isHidden) {
    if (isHidden === this.#isHidden) return;
    this.take();
    this.#isHidden = isHidden;
  }

  /** Handles what xterm reports as typed or pasted. */
  handle(data) {
    let i = 0;
    while (i < data.length) {
      const char = data[i];
      if (char === '\x1b') {
        i = this.#escape(data, i);
        continue;
      }
      i++;
      if (char === '\r' || char === '\n') {
        if (char === '\r' && data[i] === '\n') i++;
        this.#enter();
      } else if (char === '\x7f' || char === '\b') {
        this.#replace(this.#units.slice(0, -1));
      } else if (char === '\x15') {
        this.#replace([]);
      } else if (char === '\x17') {
        this.#replace(split(this.text.replace(/\S*\s*$/u, '')));
      } else if (char === '\x03' || char === '\x04') {
        this.#control(char);
      } else if (char >= ' ') {
        let end = i;
        while (end < data.length && data[end] >= ' ' && data[end] !== '\x7f') end++;
        this.#insert(data.slice(i - 1, end));
        i = end;
      }
      // Other control characters (Tab, Ctrl-L, …) have no meaning in a local line.
    }
  }

  /** Takes the line off the screen before server output is written. */
  suspend() {
    if (this.#isSuspended) return;
    this.#isSuspended = true;
    if (this.#shown().length > 0) this.#term.write(`${this.#toStart()}\x1b[J`);
  }

  /** Puts the line back after the server output, wherever that left the cursor. */
  resume() {
    if (!this.#isSuspended) return;
    this.#isSuspended = false;
    this.#startCol = this.#term.buffer.active.cursorX;
    if (this.#shown().length > 0) this.#term.write(this.text);
  }

  /** Erases the line from the screen and returns it, as the server takes over echo. */
  take() {
    const text = this.text;
    if (!this.#isSuspended && this.#shown().length > 0) this.#term.write(`${this.#toStart()}\x1b[J`);
    this.#units = [];
    this.#startCol = undefined;
    return text;
  }

  #insert(text) {
    if (!this.#isSuspended && !this.#isHidden) {
      this.#startCol ??= this.#term.buffer.active.cursorX;
      this.#term.write(text);
    }
    const last = this.#units.pop() ?? '';
    // A combining mark typed after a letter joins that letter's cluster.
    this.#units.push(...split(last + text));
    this.#historyIndex = this.#history.length;
  }

  #replace(units) {
    if (!this.#isSuspended && !this.#isHidden) {
      this.#startCol ??= this.#term.buffer.active.cursorX;
      const erase = this.#units.length > 0 ? `${this.#toStart()}\x1b[J` : '';
      this.#term.write(`${erase}${units.join('')}`);
    }
    this.#units = units;
  }

  #enter() {
    const line = this.text;
    this.#endLine('\r\n');
    const isRemembered = !this.#isHidden && line !== '' && line !== this.#history[this.#history.length - 1];
    if (isRemembered) this.#history.push(line);
    this.#historyIndex = this.#history.length;
    this.#onLine(line);
  }

  #control(char) {
    if (this.#units.length === 0) {
      this.#onControl(char);
    } else if (char === '\x03') {
      // Like a shell: Ctrl-C drops the line typed so far.
      this.#endLine('^C\r\n');
    }
  }

  /** Ends the line on screen; the next one starts in column 0, known without asking xterm. */
  #endLine(ending) {
    // A line typed while output was pending is not on screen yet; it follows that output.
    this.#term.write(this.#isSuspended ? `${this.#shown().join('')}${ending}` : ending);
    this.#isSuspended = false;
    this.#units = [];
    this.#startCol = 0;
  }

  /** Handles an escape sequence at `start`; returns the index after it. */
  #escape(data, start) {
    const introducer = data[start + 1];
    if (introducer !== '[' && introducer !== 'O') return start + 1;
    let end = start + 2;
    while (end < data.length && !/[\x40-\x7e]/.test(data[end])) end++;
    const final = data[end];
    if (final === 'A') this.#recall(-1);
    else if (final === 'B') this.#recall(1);
    return end + 1;
  }

  #recall(step) {
    if (this.#isHidden) return;
    const index = this.#historyIndex + step;
    if (index < 0 || index > this.#history.length) return;
    if (this.#historyIndex === this.#history.length) this.#draft = this.text;
    this.#historyIndex = index;
    this.#replace(split(index === this.#history.length ? this.#draft : this.#history[index]));
  }

  /** What of the line is on screen, when not suspended: all of it, or nothing while hidden. */
  #shown() {
    return this.#isHidden ? [] : this.#units;
  }

  /** The escape sequence moving the cursor from the end of the line back to its start. */
  #toStart() {
    const startCol = this.#startCol ?? 0;
    const cols = this.#term.cols;
    let row = 0;
    let col = startCol;
    for (const unit of this.#shown()) {
      for (const char of unit) {
        const width = cellWidth(this.#term, char);
        if (width === 0) continue;
        // xterm wraps before a character that does not fit, leaving the last column blank for a wide one.
        if (col + width > cols) {
          row++;
          col = 0;
        }
        col += width;
      }
    }
    return `${row > 0 ? `\x1b[${row}A` : ''}\r${startCol > 0 ? `\x1b[${startCol}C` : ''}`;
  }
}

function split(text) {
  return Array.from(segmenter.segment(text), (part) => part.segment);
}

/** Cells a character takes: xterm's own measure where it exposes one, else a small East Asian Width table. */
function cellWidth(term, char) {
  const service = term._core?.unicodeService;
  if (typeof service?.getStringCellWidth === 'function') return service.getStringCellWidth(char);
  const code = char.codePointAt(0);
  if (/\p{Mn}|\p{Me}|\p{Cf}/u.test(char)) return 0;
  const isWide =
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x1f900 && code <= 0x1f9ff) ||
    (code >= 0x20000 && code <= 0x3fffd);
  return isWide ? 2 : 1;
}

/** One page: the terminal, the status bar and the current connection. */
class TerminalPage {
  #term;
  #mode;
  #url;
  #status;
  #button;
  #socket = undefined;
  #telnet = undefined;
  #editor;
  #decoder = new TextDecoder();
  #pendingWrites = 0;
  #isConnected = false;
  /** The session's resume token, from its control channel; undefined when it cannot be resumed. */
  #token = undefined;
  /** Seconds the server keeps a dropped session for us. */
  #grace = 0;
  /** While trying to get a dropped session back: the time after which the server has let it go. */
  #resumeUntil = 0;
  /** This connection presented a token: the server's answer says whether it was taken. */
  #isResuming = false;
  #attempt = 0;
  #retryTimer = undefined;
  #countdown = undefined;

  constructor({ term, mode, url, status, button }) {
    this.#term = term;
    this.#mode = mode;
    this.#url = url;
    this.#status = status;
    this.#button = button;
    this.#editor = this.#newEditor();
    term.onResize(({ cols, rows }) => this.#sendSize(cols, rows));
    button.addEventListener('click', () => this.connect());
    // Back online after a drop: no need to wait out the backoff.
    window.addEventListener('online', () => {
      if (this.#retryTimer !== undefined) this.connect();
    });
  }

  /** Connects: back to the dropped session while its token is good, else to a new one. */
  connect() {
    if (this.#socket !== undefined) return;
    this.#stopRetrying();
    this.#isResuming = this.#token !== undefined;
    this.#setStatus('connecting', this.#isResuming ? 'Reconnecting…' : 'Connecting…');
    // A session taken back keeps the line being typed; a new one starts clean.
    if (!this.#isResuming) this.#editor = this.#newEditor();
    this.#decoder = new TextDecoder();
    this.#telnet = this.#mode === 'telnet' ? new TelnetClient() : undefined;
    this.#telnet?.resize(this.#term.cols, this.#term.rows);
    const url = new URL(this.#url);
    if (this.#isResuming) url.searchParams.set(RESUME_PARAMETER, this.#token);
    const socket = new WebSocket(url, this.#telnet ? TELNET_CONTROL_SUBPROTOCOL : TEXT_CONTROL_SUBPROTOCOL);
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    socket.addEventListener('open', () => {
      this.#isConnected = true;
      this.#attempt = 0;
      this.#setStatus('connected', 'Connected');
      if (this.#telnet === undefined) this.#sendSize(this.#term.cols, this.#term.rows);
      this.#term.focus();
    });
    socket.addEventListener('message', (event) => this.#onMessage(event.data));
    socket.addEventListener('close', (event) => this.#onClose(event));
  }

  #onClose({ code, reason }) {
    const wasConnected = this.#isConnected;
    this.#socket = undefined;
    this.#isConnected = false;
    // A close frame means the server ended the session; only a drop leaves it waiting for us.
    const isSessionLost = code === CLOSE_ABNORMAL && this.#token !== undefined;
    if (isSessionLost) {
      if (wasConnected) this.#resumeUntil = Date.now() + this.#grace * 1000;
      if (this.#scheduleReconnect()) return;
    }
    this.#token = undefined;
    this.#setStatus(
      'disconnected',
      wasConnected || isSessionLost || code !== CLOSE_ABNORMAL ? endWords(code, reason) : 'Cannot reach the server',
    );
    // A half-typed line is gone with the session; it should not linger under the notice.
    this.#editor.take();
    this.#output('\r\n\x1b[2m[Disconnected — press Enter or click Reconnect]\x1b[0m\r\n');
  }

  /** Tries again after the next delay, if the server still keeps the session then; says whether it will. */
  #scheduleReconnect() {
    const left = this.#resumeUntil - Date.now();
    if (left <= 0) return false;
    const delay = Math.min(RECONNECT_DELAYS[Math.min(this.#attempt, RECONNECT_DELAYS.length - 1)] * 1000, left);
    this.#attempt++;
    const at = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(1, Math.ceil((at - Date.now()) / 1000));
      this.#setStatus('reconnecting', `Reconnecting in ${seconds} s…`);
    };
    tick();
    this.#countdown = setInterval(tick, 1000);
    this.#retryTimer = setTimeout(() => this.connect(), delay);
    return true;
  }

  #stopRetrying() {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#countdown);
    this.#retryTimer = undefined;
    this.#countdown = undefined;
  }

  #newEditor() {
    return new LineEditor(
      this.#term,
      (line) => this.#send(this.#telnet ? TelnetClient.encodeKeys(`${line}\r\n`) : line),
      // The server reads Ctrl-C and Ctrl-D on an empty line as interrupt and end of input.
      (char) => this.#send(this.#telnet ? TelnetClient.encodeKeys(char) : char),
    );
  }

  #onMessage(data) {
    // Control travels in the message type the session's data does not use: binary beside text, text beside telnet.
    const isText = typeof data === 'string';
    if (isText === (this.#telnet !== undefined)) return this.#onControl(isText ? data : new TextDecoder().decode(data));
    if (isText) return this.#output(data);
    const bytes = new Uint8Array(data);
    if (this.#telnet === undefined) return this.#output(this.#decoder.decode(bytes, { stream: true }));
    const { data: screen, reply, isEchoChanged } = this.#telnet.receive(bytes);
    this.#send(reply);
    if (screen.length > 0) this.#output(this.#decoder.decode(screen, { stream: true }));
    // Once the server echoes, what was typed locally goes to it and it echoes that back.
    if (isEchoChanged && this.#telnet.isRemoteOn(OPT_ECHO)) this.#send(TelnetClient.encodeKeys(this.#editor.take()));
  }

  #onControl(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message?.type === 'session') {
      if (this.#isResuming && message.resumed !== true) {
        this.#editor.take();
        this.#editor = this.#newEditor();
        this.#output('\r\n\x1b[2m[The session could not be resumed: this is a new one]\x1b[0m\r\n');
      }
      this.#isResuming = false;
      this.#token = message.token;
      this.#grace = message.grace;
    } else if (message?.type === 'input') {
      this.#editor.hidden = message.hidden === true;
    }
  }

  /** Input as if typed on the keyboard: xterm's, the extra keys', a paste. */
  typeKeys(data) {
    if (!this.#isConnected) {
      if (this.#socket === undefined && /[\r\n]/.test(data)) this.connect();
      return;
    }
    if (this.#telnet?.isRemoteOn(OPT_ECHO)) this.#send(TelnetClient.encodeKeys(data));
    else this.#editor.handle(data);
  }

  /** Tells the server the window size: NAWS in telnet mode, a control message in text mode. */
  #sendSize(cols, rows) {
    if (this.#telnet !== undefined) this.#send(this.#telnet.resize(cols, rows));
    else this.#send(encoder.encode(JSON.stringify({ type: 'size', cols, rows })));
  }

  /** Writes server output; a line being typed steps aside and comes back after it. */
  #output(text) {
    if (text === '') return;
    this.#editor.suspend();
    this.#pendingWrites++;
    this.#term.write(text, () => {
      if (--this.#pendingWrites === 0) this.#editor.resume();
    });
  }

  #send(data) {
    if (data === undefined || data.length === 0) return;
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(data);
  }

  #setStatus(state, text) {
    this.#status.dataset.state = state;
    this.#status.textContent = text;
    this.#button.hidden = state !== 'disconnected' && state !== 'reconnecting';
  }
}

/** Why the session ended, in words, from the close frame the server sent (docs/transports.md). */
function endWords(code, reason) {
  if (code === 1000) return 'The server ended the session';
  if (code === 1001 && reason === 'Server shutting down') return 'The server is shutting down';
  if (code === 1001 && reason === 'Idle timeout') return 'The server ended the session: no input for too long';
  if (code === 1001 && reason === 'Session time limit') return 'The session reached its time limit';
  if (code === 1008) return 'Disconnected by the server';
  if (code === 1009) return 'The server ended the session: a message was too long';
  if (code === 1011) return 'The server ended the session after an error';
  return 'The connection was lost';
}

function main() {
  const root = document.getElementById('terminal');
  if (root === null) return;
  const { wsPath, mode } = document.body.dataset;
  // Opened as a file, the placeholders are still there: fall back to the defaults.
  const path = wsPath?.startsWith('/') ? wsPath : '/ws';
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const preferences = new Preferences();
  const term = new Terminal({
    // Unicode 11 widths (emoji and the like take two cells) are switched on through a proposed API.
    allowProposedApi: true,
    cursorBlink: true,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: preferences.fontSize,
    scrollback: 5000,
    theme: THEMES[preferences.theme],
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.loadAddon(new Unicode11Addon.Unicode11Addon());
  term.unicode.activeVersion = '11';
  term.loadAddon(new WebLinksAddon.WebLinksAddon());
  term.open(root);
  fit.fit();
  const page = new TerminalPage({
    term,
    mode: mode === 'telnet' ? 'telnet' : 'text',
    url: `${scheme}://${location.host}${path}${location.search}`,
    status: document.getElementById('status'),
    button: document.getElementById('reconnect'),
  });
  // A tap on the page's own buttons leaves the focus, and so the on-screen keyboard, where it was.
  for (const button of document.querySelectorAll('#controls button, #extra-keys button')) {
    button.addEventListener('pointerdown', (event) => event.preventDefault());
  }
  applyPreferences(preferences, {
    term,
    fit,
    themeButton: document.getElementById('theme'),
    smallerButton: document.getElementById('font-smaller'),
    largerButton: document.getElementById('font-larger'),
  });
  const extraKeys = new ExtraKeys({
    term,
    row: document.getElementById('extra-keys'),
    toggle: document.getElementById('keys-toggle'),
    preferences,
    send: (data) => page.typeKeys(data),
  });
  term.onData((data) => page.typeKeys(extraKeys.modify(data)));
  enableClipboard(term);
  fitToViewport({ fit, container: root });
  // Tests and the curious read the screen from here.
  window.term = term;
  page.connect();
  term.focus();
}

if (typeof document !== 'undefined') main();
