// Telnet layer (RFC 854/855): negotiation, terminal details and text encoding over any byte transport.
import type { Logger } from 'pino';

import {
  AYT,
  BRK,
  EC,
  EL,
  EOR,
  GA,
  IP,
  NOP,
  MODE_EDIT,
  MODE_TRAPSIG,
  OPT_BINARY,
  OPT_CHARSET,
  OPT_ECHO,
  OPT_EOR,
  OPT_LINEMODE,
  OPT_MCCP2,
  OPT_MCCP3,
  OPT_MSDP,
  OPT_MSSP,
  OPT_GMCP,
  OPT_NAWS,
  OPT_NEW_ENVIRON,
  OPT_SGA,
  OPT_TTYPE,
  optionName,
} from '../telnet/constants.js';
import { acceptCharset, parseCharsetReply, rejectCharset, requestCharset } from '../telnet/charset.js';
import { TelnetDecoder } from '../telnet/decoder.js';
import type { TelnetSink } from '../telnet/decoder.js';
import { command, encodeText, escapeIac, nvtText } from '../telnet/encoder.js';
import { isWindowsTelnet, parseEnvironment, requestEnvironment } from '../telnet/environ.js';
import { encodeGmcp, parseGmcp } from '../telnet/gmcp.js';
import { SpecialCharacters, linemodeMode, parseLinemode } from '../telnet/linemode.js';
import { START_MCCP2 } from '../telnet/mccp.js';
import { parseMsdp } from '../telnet/msdp.js';
import { MSSP_REQUEST, encodeMssp, msspPlainText } from '../telnet/mssp.js';
import type { MsspVariables } from '../telnet/mssp.js';
import { isMudClient } from '../telnet/mud-client.js';
import { parseNaws } from '../telnet/naws.js';
import { OptionNegotiator } from '../telnet/options.js';
import type { NegotiationResult, OptionPolicy } from '../telnet/options.js';
import { MTTS, TerminalTypeCycle, parseTerminalType, requestTerminalType } from '../telnet/terminal-type.js';
import type { Connection, TerminalFacts } from '../transports/connection.js';
import { KeyReader, readWholeLines } from './key-reader.js';
import type { InputToken } from './key-reader.js';
import { mergeTerminalFacts, unknownTerminal } from './layer.js';
import type { InputMode, LayerEvents, SessionLayer, TerminalChange, TerminalInfo } from './layer.js';
import { LazyLogger } from './lazy-logger.js';
import { MccpConnection } from './mccp-connection.js';
import { GmcpSession, MsdpSession, NO_GMCP, NO_MSDP } from './out-of-band.js';
import type { GmcpChannel, MsdpChannel } from './out-of-band.js';

/** The MUD protocols a telnet layer offers (telnet_options); all off unless the config names them. */
export interface MudOptions {
  gmcp: boolean;
  msdp: boolean;
  mccp2: boolean;
  mccp3: boolean;
  /** The MSSP variables, with live values, when MSSP is offered. */
  mssp: (() => Promise<MsspVariables>) | undefined;
}

/** Options of a telnet layer. */
export interface TelnetLayerOptions {
  /** Character mode (server echo and editing) or line mode (the client edits), where the client allows. */
  preferredMode: InputMode;
  /** Seconds between IAC NOP keepalives to telnet clients; 0 = none. */
  keepaliveInterval: number;
  events: LayerEvents;
  /** The session's logger: the layer logs through a child of it (component: telnet), made at its first line. */
  logger: Logger | LazyLogger;
  /** MUD protocols to offer; none when undefined. */
  mud?: MudOptions;
}

/** How long to wait for the terminal type before taking over echo anyway. */
const ECHO_DECISION_MS = 250;
/** A client that has sent no telnet command by then does not speak telnet (nc, scripts). */
const TELNET_DETECTION_MS = 1000;
/**
 * Negotiations, subnegotiations and AYTs acted on at once, and then per second; a storm's excess
 * is ignored. Clients send a few dozen when they connect; the limit bounds what a read can cost.
 */
const PROTOCOL_COMMAND_BURST = 1000;
const PROTOCOL_COMMANDS_PER_SECOND = 500;

const OPTIONS_WE_PERFORM = new Set([OPT_ECHO, OPT_SGA, OPT_EOR, OPT_BINARY, OPT_CHARSET]);
const OPTIONS_WE_ACCEPT = new Set([OPT_TTYPE, OPT_NAWS, OPT_NEW_ENVIRON, OPT_BINARY, OPT_CHARSET, OPT_SGA]);
/** What a client asking first may switch on, by preferred mode; shared, as sessions differ only by mode. */
const POLICIES: Readonly<Record<InputMode, OptionPolicy>> = {
  character: {
    acceptLocal: (option) => OPTIONS_WE_PERFORM.has(option),
    acceptRemote: (option) => OPTIONS_WE_ACCEPT.has(option),
  },
  // ECHO and SGA only when we chose character mode: a client asking first gets them then too.
  line: {
    acceptLocal: (option) => OPTIONS_WE_PERFORM.has(option) && option !== OPT_ECHO && option !== OPT_SGA,
    acceptRemote: (option) => OPTIONS_WE_ACCEPT.has(option) || option === OPT_LINEMODE,
  },
};

/**
 * The options a session's list shows, in its order, each once; then the MUD options, which are on
 * only where offered. At most 15, so that the two masks of options on make one small integer.
 */
const LISTED_OPTIONS: readonly number[] = [
  ...new Set([
    ...OPTIONS_WE_PERFORM,
    ...OPTIONS_WE_ACCEPT,
    OPT_LINEMODE,
    OPT_GMCP,
    OPT_MSDP,
    OPT_MSSP,
    OPT_MCCP2,
    OPT_MCCP3,
  ]),
];

/** Shared by every layer without MUD options, so that they allocate nothing for them. */
const NO_MUD_OPTIONS: ReadonlySet<number> = new Set();
/** Between reads, the tokens of every layer: nothing is added to it (it is frozen), since input is decoded only in receive(). */
const NO_TOKENS: InputToken[] = Object.freeze([]) as unknown as InputToken[];

/** A layer's yes-or-no states, as bits of one number. */
const TELNET_PEER = 1;
const ECHO_DECIDED = 2;
const ECHO_FOR_HIDDEN_INPUT = 4;
const ECHO_TAKEN_OVER = 8;
const ECHO_KEPT_FOR_DECISION = 16;
const DETECTION_OVER = 32;
const PROMPT_UNMARKED = 64;
const CLIENT_KNOWN = 128;
const ENVIRONMENT_ASKED = 256;
const CHARSET_REFUSED = 512;
const TEXT_AS_BINARY = 1024;
/**
 * We perform ECHO, and SUPPRESS-GO-AHEAD: the negotiator's answer, kept here as it changes
 * (#apply), since the mode is asked several times a line and the negotiator searches its table.
 */
const LOCAL_ECHO_ON = 2048;
const LOCAL_SGA_ON = 4096;
const TERMINAL_TYPES_KNOWN = 8192;
/** The client agreed to TTYPE in this read: its name is asked for once the read is done (see receive). */
const TERMINAL_TYPE_DUE = 16384;
/**
 * Options changed in this read: the terminal's list of them is made again once the read is done
 * (or before a hook that may read it), not at each answer: a client's first read answers five or six.
 */
const OPTION_LIST_DUE = 32768;
/**
 * The last read ended inside a telnet command: the decoder's state, kept here as it changes, so
 * that a line read whole (readLines) touches no other object; at 500 busy users each is a read
 * from memory.
 */
const DECODER_IN_COMMAND = 65536;

/** The longest first line checked for the plain-text MSSP request. */
const MSSP_REQUEST_PROBE = MSSP_REQUEST.length + 2;

const PROMPT_EOR = command(EOR);
const PROMPT_GA = command(GA);
const KEEPALIVE = command(NOP);
const ARE_YOU_THERE_REPLY = encodeText('\n[Yes]\n');

/**
 * Speaks telnet with the client; falls back to plain line input for clients that do not.
 * It is its own decoder's sink: the on* methods are called only from receive().
 */
export class TelnetLayer implements SessionLayer, TelnetSink {
  readonly terminal: TerminalInfo = unknownTerminal();
  #connection: Connection;
  #options: TelnetLayerOptions;
  #childLogger: LazyLogger | undefined;
  #decoder = new TelnetDecoder();
  /** Made at the first text: a client that only negotiates, or sends nothing, never needs one. */
  #reader: KeyReader | undefined;
  #negotiator: OptionNegotiator;
  /** Made at the first TTYPE reply and let go once the names end: the terminal keeps what they said. */
  #terminalTypes: TerminalTypeCycle | undefined;
  /** The yes-or-no states (TELNET_PEER and the others) behind the accessors below: a field each would cost every session 8 bytes. */
  #states = 0;
  /** Created at the client's first SLC list (RFC 1184): most sessions never send one. */
  #specialCharacters: SpecialCharacters | undefined;
  #echoTimer: NodeJS.Timeout | undefined;
  #detectionTimer: NodeJS.Timeout | undefined;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  /** Protocol commands the client may still send now (a token bucket, refilled before reads). */
  #budget = PROTOCOL_COMMAND_BURST;
  #budgetAt = 0;
  /**
   * What the decoder's callbacks produce during one receive(), handed over at its end; between
   * reads, the shared empty list and nothing, so that an idle session holds no list of its own.
   */
  #tokens: InputToken[] = NO_TOKENS;
  #pendingReplies: Uint8Array[] | undefined;
  /** MUD protocols (telnet_options): what is offered, and the channels and wire they use. */
  #mud: MudOptions | undefined;
  #mudOptions: ReadonlySet<number> = NO_MUD_OPTIONS;
  #gmcp: GmcpSession | undefined;
  #msdp: MsdpSession | undefined;
  #wire: MccpConnection | undefined;
  /** The start of the first line, while it may still be the plain-text MSSP request. */
  #msspProbe: string | undefined;
  /** The prompt mark as of the negotiator's version beside it (-1: not worked out yet). */
  #promptMark: Uint8Array | undefined | null = null;
  #promptMarkVersion = -1;

  get #isTelnetPeer(): boolean {
    return this.#is(TELNET_PEER);
  }

  set #isTelnetPeer(is: boolean) {
    this.#set(TELNET_PEER, is);
  }

  get #isEchoDecided(): boolean {
    return this.#is(ECHO_DECIDED);
  }

  set #isEchoDecided(is: boolean) {
    this.#set(ECHO_DECIDED, is);
  }

  get #isEchoForHiddenInput(): boolean {
    return this.#is(ECHO_FOR_HIDDEN_INPUT);
  }

  set #isEchoForHiddenInput(is: boolean) {
    this.#set(ECHO_FOR_HIDDEN_INPUT, is);
  }

  /** Set once character mode has asked for ECHO to echo typing itself (not to hide it). */
  get #isEchoTakenOver(): boolean {
    return this.#is(ECHO_TAKEN_OVER);
  }

  set #isEchoTakenOver(is: boolean) {
    this.#set(ECHO_TAKEN_OVER, is);
  }

  /** ECHO asked for a password answered before the echo decision: the decision keeps it or gives it back. */
  get #isEchoKeptForDecision(): boolean {
    return this.#is(ECHO_KEPT_FOR_DECISION);
  }

  set #isEchoKeptForDecision(is: boolean) {
    this.#set(ECHO_KEPT_FOR_DECISION, is);
  }

  get #isDetectionOver(): boolean {
    return this.#is(DETECTION_OVER);
  }

  set #isDetectionOver(is: boolean) {
    this.#set(DETECTION_OVER, is);
  }

  /** A prompt went out before the client answered EOR and SGA; it is marked once it has. */
  get #isPromptUnmarked(): boolean {
    return this.#is(PROMPT_UNMARKED);
  }

  set #isPromptUnmarked(is: boolean) {
    this.#set(PROMPT_UNMARKED, is);
  }

  /** Set once TTYPE says what the client is (or it refused TTYPE): NEW-ENVIRON may be asked then. */
  get #isClientKnown(): boolean {
    return this.#is(CLIENT_KNOWN);
  }

  set #isClientKnown(is: boolean) {
    this.#set(CLIENT_KNOWN, is);
  }

  get #isEnvironmentAsked(): boolean {
    return this.#is(ENVIRONMENT_ASKED);
  }

  set #isEnvironmentAsked(is: boolean) {
    this.#set(ENVIRONMENT_ASKED, is);
  }

  /** The client would not agree on a character set (RFC 2066): its MTTS bits say whether it has UTF-8. */
  get #isCharsetRefused(): boolean {
    return this.#is(CHARSET_REFUSED);
  }

  set #isCharsetRefused(is: boolean) {
    this.#set(CHARSET_REFUSED, is);
  }

  #is(state: number): boolean {
    return (this.#states & state) !== 0;
  }

  #set(state: number, is: boolean): void {
    this.#states = is ? this.#states | state : this.#states & ~state;
  }

  /** Made at the first line logged: most telnet sessions log none. */
  get #logger(): LazyLogger {
    this.#childLogger ??= new LazyLogger(this.#options.logger, 'component', 'telnet');
    return this.#childLogger;
  }

  /** Replies to send at the end of this receive(); the list is made by the first. */
  get #replies(): Uint8Array[] {
    this.#pendingReplies ??= [];
    return this.#pendingReplies;
  }

  constructor(connection: Connection, options: TelnetLayerOptions) {
    this.#connection = connection;
    this.#options = options;
    // Telnet goes in binary messages: text written as such can then join the turn's other text.
    if (connection.framing === 'message' && connection.sendTextAsBinary?.() === true) this.#states |= TEXT_AS_BINARY;
    const mud = options.mud;
    if (mud === undefined) {
      this.#negotiator = new OptionNegotiator(POLICIES[options.preferredMode]);
      return;
    }
    this.#mud = mud;
    this.#mudOptions = new Set(
      [
        mud.gmcp && OPT_GMCP,
        mud.msdp && OPT_MSDP,
        mud.mssp !== undefined && OPT_MSSP,
        mud.mccp2 && OPT_MCCP2,
        mud.mccp3 && OPT_MCCP3,
      ].filter((option): option is number => option !== false),
    );
    const base = POLICIES[options.preferredMode];
    this.#negotiator = new OptionNegotiator({
      acceptLocal: (option) => base.acceptLocal(option) || this.#mudOptions.has(option),
      acceptRemote: (option) => base.acceptRemote(option),
    });
    if (mud.gmcp) {
      this.#gmcp = new GmcpSession(
        () => this.#isOn('local', OPT_GMCP),
        (message, data) => this.#send([encodeGmcp(message, data)]),
      );
    }
    if (mud.msdp)
      this.#msdp = new MsdpSession(
        () => this.#isOn('local', OPT_MSDP),
        (bytes) => this.#send([bytes]),
      );
    if (mud.mssp !== undefined) this.#msspProbe = '';
    if (mud.mccp2 || mud.mccp3) {
      this.#wire = new MccpConnection(connection, this.#logger, mud.mccp3);
      this.#connection = this.#wire;
    }
  }

  /** The connection as this layer wraps it: compressed where MCCP is on. */
  get connection(): Connection {
    return this.#connection;
  }

  get gmcp(): GmcpChannel {
    return this.#gmcp ?? NO_GMCP;
  }

  get msdp(): MsdpChannel {
    return this.#msdp ?? NO_MSDP;
  }

  get mode(): InputMode {
    const states = this.#states & (LOCAL_SGA_ON | LOCAL_ECHO_ON | ECHO_FOR_HIDDEN_INPUT);
    return states === (LOCAL_SGA_ON | LOCAL_ECHO_ON) ? 'character' : 'line';
  }

  get serverEchoes(): boolean {
    return (this.#states & (LOCAL_ECHO_ON | ECHO_FOR_HIDDEN_INPUT)) === LOCAL_ECHO_ON;
  }

  /** Whether the client has shown it speaks telnet. */
  get isTelnetPeer(): boolean {
    return this.#isTelnetPeer;
  }

  learnTerminal(facts: TerminalFacts): TerminalChange {
    return mergeTerminalFacts(this.terminal, facts);
  }

  start(): void {
    // Negotiation goes out at once, with the welcome: netkit telnet given a port never starts it itself.
    const mode = this.#options.preferredMode;
    if (this.#mud === undefined) {
      const opening = plainOpening(mode);
      this.#negotiator.openAs(opening.negotiator);
      this.#send([opening.frame]);
    } else {
      this.#send(openingRequests(this.#negotiator, mode, this.#mudOptions));
    }
    // ECHO waits for the terminal type: MUD clients read WILL ECHO as "hide the input". One timer
    // at a time: detection's starts only for a client that has sent no telnet when echo is decided.
    if (mode === 'character') {
      this.#echoTimer = this.#after(ECHO_DECISION_MS, () => {
        this.#decideEcho();
        this.#detectTelnet(TELNET_DETECTION_MS - ECHO_DECISION_MS);
      });
    } else {
      this.#detectTelnet(TELNET_DETECTION_MS);
    }
    const keepalive = this.#options.keepaliveInterval;
    if (keepalive > 0) {
      this.#keepaliveTimer = setInterval(() => {
        if (this.#isTelnetPeer) void this.#connection.write(KEEPALIVE);
      }, keepalive * 1000);
      this.#keepaliveTimer.unref();
    }
  }

  receive(bytes: Uint8Array): InputToken[] {
    if (this.#budget < PROTOCOL_COMMAND_BURST) this.#renewBudget();
    this.#tokens = [];
    this.#decoder.decode(bytes, this);
    this.#set(DECODER_IN_COMMAND, !this.#decoder.isAtRest);
    let tokens = this.#tokens;
    this.#tokens = NO_TOKENS;
    this.#listOptionsIfDue();
    if (this.#msspProbe !== undefined) tokens = this.#probeMsspRequest(tokens);
    if (this.#is(TERMINAL_TYPE_DUE)) {
      this.#set(TERMINAL_TYPE_DUE, false);
      if (this.#pendingReplies === undefined || this.#pendingReplies.length === 0) this.#requestTerminalTypeNextTurn();
      else this.#pendingReplies.push(requestTerminalType());
    }
    const replies = this.#pendingReplies;
    if (replies !== undefined) {
      this.#pendingReplies = undefined;
      this.#send(replies);
    }
    return tokens;
  }

  readLines(bytes: Uint8Array): string[] | undefined {
    // Whole lines of printable text hold no IAC: between commands, they are data and nothing else.
    if (this.#msspProbe !== undefined || this.#is(DECODER_IN_COMMAND)) return undefined;
    // Without a reader nothing is pending: a client that sends only whole lines never needs one.
    const reader = this.#reader;
    return reader === undefined ? readWholeLines(bytes) : reader.readLines(bytes);
  }

  onData(bytes: Uint8Array): void {
    if (this.#msspProbe !== undefined)
      this.#msspProbe += Buffer.from(bytes.subarray(0, MSSP_REQUEST_PROBE)).toString('latin1');
    (this.#reader ??= new KeyReader()).push(bytes, this.#tokens);
  }

  onCommand(code: number): void {
    this.#markTelnetPeer();
    switch (code) {
      case IP:
      case BRK:
        this.#tokens.push({ type: 'key', name: 'interrupt', sequence: '\x03' });
        return;
      case EC:
        this.#tokens.push({ type: 'key', name: 'backspace', sequence: '\x7f' });
        return;
      case EL:
        this.#tokens.push({ type: 'key', name: 'kill-line', sequence: '\x15' });
        return;
      case AYT:
        if (this.#isWithinBudget()) this.#replies.push(ARE_YOU_THERE_REPLY);
        return;
      default:
        // NOP, GA, DM, AO and the rest need no action from a server.
        return;
    }
  }

  onNegotiate(verb: number, option: number): void {
    this.#markTelnetPeer();
    if (!this.#isWithinBudget()) return;
    for (const frame of this.#apply(this.#negotiator.receive(verb, option))) this.#replies.push(frame);
  }

  onSubnegotiation(option: number, payload: Uint8Array): void {
    this.#markTelnetPeer();
    if (this.#isWithinBudget()) this.#handleSubnegotiation(option, payload, this.#replies);
  }

  onOverflow(option: number): void {
    this.#logger.debug({ option: optionName(option) }, 'oversized subnegotiation dropped');
  }

  flush(): InputToken[] {
    return this.#reader?.flush() ?? [];
  }

  encodeText(text: string, isCrlf = false): Uint8Array | string {
    this.#isPromptUnmarked = false;
    // A string is joined with the turn's other text into one write (or message), and its UTF-8
    // never holds IAC; a message transport that sends text as text gets bytes, as telnet is binary.
    if (this.#connection.framing === 'stream' || this.#is(TEXT_AS_BINARY)) {
      return isCrlf ? text : nvtText(text);
    }
    return encodeText(text);
  }

  encodeRaw(data: Uint8Array | string): Uint8Array {
    this.#isPromptUnmarked = false;
    return escapeIac(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  promptMark(): Uint8Array | undefined {
    const mark = this.#settledPromptMark();
    // The first prompt usually goes out before the client's answers arrive: mark it late.
    if (mark === null) this.#isPromptUnmarked = true;
    return mark ?? undefined;
  }

  /**
   * EOR or GA as the client's answers decide, undefined for no mark, null while they are awaited.
   * Worked out again only once negotiation has changed: asked at every prompt, it searched the
   * option table three times.
   */
  #settledPromptMark(): Uint8Array | undefined | null {
    if (!this.#isTelnetPeer) return null;
    const version = this.#negotiator.version;
    if (version !== this.#promptMarkVersion) {
      this.#promptMark = this.#negotiatedPromptMark();
      this.#promptMarkVersion = version;
    }
    return this.#promptMark;
  }

  #negotiatedPromptMark(): Uint8Array | undefined | null {
    if (this.#negotiator.isPending('local', OPT_EOR)) return null;
    if (this.#isOn('local', OPT_EOR)) return PROMPT_EOR;
    if (this.#negotiator.isPending('local', OPT_SGA)) return null;
    // RFC 858: without SUPPRESS-GO-AHEAD the client may wait for GA to know it can speak.
    if (!this.#is(LOCAL_SGA_ON)) return PROMPT_GA;
    return undefined;
  }

  setHiddenInput(hidden: boolean): boolean {
    if (hidden !== this.#isEchoForHiddenInput) this.#changeHiddenInput(hidden);
    return hidden && (this.#isOn('local', OPT_ECHO) || this.#negotiator.isPending('local', OPT_ECHO));
  }

  #changeHiddenInput(hidden: boolean): void {
    if (hidden) {
      if (this.#isOn('local', OPT_ECHO)) return;
      // WILL ECHO makes the client stop echoing locally; we then echo nothing. A client that
      // has not answered yet may still be telnet (a password asked in onConnect): only one
      // silent past the detection time is known not to be.
      this.#isEchoForHiddenInput = true;
      if (this.#isTelnetPeer || !this.#isDetectionOver) {
        this.#send(this.#apply(this.#negotiator.enable('local', OPT_ECHO)));
      }
    } else {
      this.#isEchoForHiddenInput = false;
      // In character mode the echo we took over stays ours; otherwise the client echoes again.
      // Before the echo decision, WONT ECHO now would be followed by WILL ECHO when it is made:
      // the echo stays on until then, and the decision gives it back to a MUD client.
      this.#isEchoKeptForDecision = this.#options.preferredMode === 'character' && !this.#isEchoDecided;
      if (!this.#isEchoTakenOver && !this.#isEchoKeptForDecision) {
        this.#send(this.#apply(this.#negotiator.disable('local', OPT_ECHO)));
      }
    }
    this.#options.events.changed('mode');
  }

  dispose(): void {
    clearTimeout(this.#echoTimer);
    clearTimeout(this.#detectionTimer);
    clearInterval(this.#keepaliveTimer);
    this.#echoTimer = undefined;
    this.#detectionTimer = undefined;
    this.#keepaliveTimer = undefined;
  }

  /**
   * Asks for the terminal type one loop turn after the answer that allows it, when nothing else
   * answers that read (with other replies it goes with them, at once, adding no write). A client
   * that answers and leaves at once (a probe, a health check, a load test's connect) has sent its
   * end with its answers, and the end is read in that next turn: such a client costs no write.
   */
  #requestTerminalTypeNextTurn(): void {
    setImmediate(() =>
      setImmediate(() => {
        if (!this.#connection.isClosed) this.#send([requestTerminalType()]);
      }),
    );
  }

  /** Gives a client that has not spoken telnet `ms` more to do so; past that it is taken for a plain one. */
  #detectTelnet(ms: number): void {
    if (this.#isTelnetPeer) return;
    this.#detectionTimer = this.#after(ms, () => {
      this.#detectionTimer = undefined;
      this.#isDetectionOver = true;
      if (!this.#isTelnetPeer) this.#logger.debug('client sent no telnet negotiation; plain line input');
    });
  }

  #markTelnetPeer(): void {
    if (this.#isTelnetPeer) return;
    this.#isTelnetPeer = true;
    // Detection only matters for a client that never speaks telnet: its timer can go.
    clearTimeout(this.#detectionTimer);
    this.#detectionTimer = undefined;
  }

  /** What the client is, as far as it will say: asks for its environment, now it is safe to. */
  #clientKnown(out: Uint8Array[]): void {
    if (this.#isClientKnown) return;
    this.#isClientKnown = true;
    if (this.#isOn('remote', OPT_NEW_ENVIRON)) this.#askEnvironment(out);
    else for (const frame of this.#apply(this.#negotiator.enable('remote', OPT_NEW_ENVIRON))) out.push(frame);
  }

  #askEnvironment(out: Uint8Array[]): void {
    if (this.#isEnvironmentAsked) return;
    this.#isEnvironmentAsked = true;
    out.push(requestEnvironment(isWindowsTelnet(this.terminal.typeNames) !== true));
  }

  /** After CHARSET was refused or rejected, the MTTS UTF-8 bit is the best word on the client's charset. */
  #charsetFromMtts(): void {
    const bits = this.terminal.mtts;
    if (!this.#isCharsetRefused || bits === undefined) return;
    this.terminal.charset = (bits & MTTS.UTF8) !== 0 ? 'UTF-8' : 'US-ASCII';
  }

  /** Counts one protocol command against the budget; false once it is spent. */
  #isWithinBudget(): boolean {
    if (this.#budget < 1) return false;
    // A full budget earns nothing while it waits: the refill counts from its first use.
    if (this.#budget === PROTOCOL_COMMAND_BURST) this.#budgetAt = Date.now();
    this.#budget--;
    return true;
  }

  #renewBudget(): void {
    const now = Date.now();
    const earned = ((now - this.#budgetAt) * PROTOCOL_COMMANDS_PER_SECOND) / 1000;
    this.#budget = Math.min(PROTOCOL_COMMAND_BURST, this.#budget + earned);
    this.#budgetAt = now;
  }

  /** Applies option changes; returns the replies plus any follow-up requests they call for. */
  #apply(result: NegotiationResult): Uint8Array[] {
    // Each result is the negotiator's new list: the follow-ups join its replies there.
    const out: Uint8Array[] = result.reply;
    let modeChanged = false;
    const events = this.#options.events;
    for (const change of result.changes) {
      events.option(change.option, change.side, change.enabled ? 'enabled' : 'disabled');
      if (change.side === 'local' && (change.option === OPT_ECHO || change.option === OPT_SGA)) {
        this.#set(change.option === OPT_ECHO ? LOCAL_ECHO_ON : LOCAL_SGA_ON, change.enabled);
      }
      if (!change.enabled) {
        if (change.side === 'local' && change.option === OPT_MCCP2) void this.#wire?.stopCompressing();
        if (change.option === OPT_ECHO || change.option === OPT_SGA) modeChanged = true;
        continue;
      }
      if (change.side === 'remote') {
        if (change.option === OPT_TTYPE) this.#set(TERMINAL_TYPE_DUE, true);
        // A client offering NEW-ENVIRON on its own is asked once TTYPE has said what it is.
        if (change.option === OPT_NEW_ENVIRON && this.#isClientKnown) this.#askEnvironment(out);
        if (change.option === OPT_LINEMODE) out.push(linemodeMode(MODE_EDIT | MODE_TRAPSIG));
      } else {
        if (this.#mudOptions.has(change.option)) this.#mudOptionOn(change.option, out);
        if (change.option === OPT_CHARSET) out.push(requestCharset(['UTF-8']));
        if (change.option === OPT_ECHO || change.option === OPT_SGA) modeChanged = true;
      }
    }
    if (result.refused !== undefined) events.option(result.refused.option, result.refused.side, 'refused');
    if (result.refused?.option === OPT_TTYPE) {
      this.#decideEcho();
      this.#clientKnown(out);
    }
    if (result.refused?.option === OPT_CHARSET && result.refused.side === 'local') {
      this.#isCharsetRefused = true;
      this.#charsetFromMtts();
    }
    if (this.#isPromptUnmarked) {
      const mark = this.#settledPromptMark();
      if (mark !== null) {
        this.#isPromptUnmarked = false;
        if (mark !== undefined) out.push(mark);
      }
    }
    if (result.changes.length > 0) {
      // Within receive() (its token list is out) the list waits for the read's end.
      if (this.#tokens === NO_TOKENS) this.#updateOptionList();
      else this.#set(OPTION_LIST_DUE, true);
    }
    if (modeChanged) this.#options.events.changed('mode');
    return out;
  }

  #handleSubnegotiation(option: number, payload: Uint8Array, replies: Uint8Array[]): void {
    switch (option) {
      case OPT_NAWS: {
        const size = parseNaws(payload);
        if (size === undefined) return;
        // Some clients send 0x0 for "unknown"; keep what we had rather than a useless size.
        if (size.cols === 0 || size.rows === 0) return;
        this.terminal.cols = size.cols;
        this.terminal.rows = size.rows;
        // The session calls the handler's onWindowSize at once, which may read the option list.
        this.#listOptionsIfDue();
        this.#options.events.changed('size');
        return;
      }
      case OPT_TTYPE: {
        const name = parseTerminalType(payload);
        if (name === undefined || this.#is(TERMINAL_TYPES_KNOWN)) return;
        const types = (this.#terminalTypes ??= new TerminalTypeCycle());
        const { askAgain } = types.add(name);
        this.terminal.typeNames = types.names;
        this.terminal.type = types.terminalType;
        this.terminal.clientName = types.clientName;
        this.terminal.mtts = types.mtts;
        if (askAgain) {
          replies.push(requestTerminalType());
        } else {
          this.#terminalTypes = undefined;
          this.#set(TERMINAL_TYPES_KNOWN, true);
        }
        this.#decideEcho();
        // ANSI may be Windows telnet, told apart by its second name (VT100).
        if (!askAgain || isWindowsTelnet(types.names) !== undefined) this.#clientKnown(replies);
        this.#charsetFromMtts();
        this.#options.events.changed('terminal');
        return;
      }
      case OPT_NEW_ENVIRON: {
        const report = parseEnvironment(payload);
        if (report === undefined) return;
        this.terminal.environment = { ...this.terminal.environment, ...report.vars };
        this.#options.events.changed('terminal');
        return;
      }
      case OPT_CHARSET: {
        const message = parseCharsetReply(payload);
        if (message === undefined) return;
        if ('accepted' in message) this.terminal.charset = message.accepted;
        // TinTin++ answers our REQUEST with REJECTED when its charset is not UTF-8.
        if ('rejected' in message) {
          this.#isCharsetRefused = true;
          this.#charsetFromMtts();
        }
        if ('request' in message) {
          const utf8 = message.request.find((name) => /^utf-?8$/i.test(name));
          replies.push(utf8 === undefined ? rejectCharset() : acceptCharset(utf8));
          if (utf8 !== undefined) this.terminal.charset = utf8;
        }
        this.#options.events.changed('terminal');
        return;
      }
      case OPT_LINEMODE: {
        // MODE acks need no answer for the modes we use; an SLC list does (RFC 1184 section 2.3),
        // once LINEMODE is on.
        const message = parseLinemode(payload);
        if (message === undefined || !('slc' in message) || !this.#isOn('remote', OPT_LINEMODE)) return;
        this.#specialCharacters ??= new SpecialCharacters();
        const answer = this.#specialCharacters.answer(message.slc);
        if (answer !== undefined) replies.push(answer);
        return;
      }
      case OPT_GMCP: {
        if (this.#gmcp === undefined || !this.#isOn('local', OPT_GMCP)) return;
        const message = parseGmcp(payload);
        if (message !== undefined) this.#gmcp.receive(message, this.#options.events);
        return;
      }
      case OPT_MSDP:
        if (this.#msdp !== undefined && this.#isOn('local', OPT_MSDP)) {
          this.#msdp.receive(parseMsdp(payload), this.#options.events);
        }
        return;
      default:
        // IAC SB MCCP3 IAC SE (the client's stream starts) is handled by the wire before it gets here.
        return;
    }
  }

  /** Takes over echo for character mode, unless the client is a MUD client. */
  #decideEcho(): void {
    if (this.#isEchoDecided || this.#options.preferredMode !== 'character') return;
    this.#isEchoDecided = true;
    clearTimeout(this.#echoTimer);
    this.#echoTimer = undefined;
    const name = this.terminal.clientName;
    if (name !== undefined && isMudClient(name)) {
      this.#logger.debug({ client: name }, 'MUD client: leaving echo to the client');
      if (this.#isEchoKeptForDecision && !this.#isEchoForHiddenInput) {
        this.#send(this.#apply(this.#negotiator.disable('local', OPT_ECHO)));
      }
      return;
    }
    this.#isEchoTakenOver = true;
    this.#send(this.#apply(this.#negotiator.enable('local', OPT_ECHO)));
  }

  #isOn(side: 'local' | 'remote', option: number): boolean {
    return this.#negotiator.isEnabled(side, option);
  }

  #listOptionsIfDue(): void {
    if (!this.#is(OPTION_LIST_DUE)) return;
    this.#set(OPTION_LIST_DUE, false);
    this.#updateOptionList();
  }

  #updateOptionList(): void {
    this.terminal.options = optionList(
      this.#negotiator.enabledAmong('local', LISTED_OPTIONS),
      this.#negotiator.enabledAmong('remote', LISTED_OPTIONS),
    );
  }

  #send(frames: Uint8Array[]): void {
    if (frames.length === 0) return;
    const start = this.#wire === undefined ? -1 : frames.indexOf(START_MCCP2);
    if (start !== -1) {
      // The client inflates from the byte after IAC SB MCCP2 IAC SE: what follows it must be compressed.
      this.#write(frames.slice(0, start + 1));
      this.#wire!.startCompressing();
      this.#write(frames.slice(start + 1));
      return;
    }
    this.#write(frames);
  }

  #write(frames: Uint8Array[]): void {
    if (frames.length === 0) return;
    void this.#connection.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  /** A MUD option the client agreed to: what it takes to start it. */
  #mudOptionOn(option: number, out: Uint8Array[]): void {
    switch (option) {
      case OPT_MCCP2:
        out.push(START_MCCP2);
        return;
      case OPT_MSSP:
        this.#sendMssp((variables) => this.#send([encodeMssp(variables)]));
        return;
      default:
        return;
    }
  }

  /** The first line, if it is MSSP-REQUEST, is answered in plain text and the connection closed. */
  #probeMsspRequest(tokens: InputToken[]): InputToken[] {
    const probe = this.#msspProbe!;
    const end = probe.search(/[\r\n]/);
    if (end === -1 && probe.length < MSSP_REQUEST_PROBE) return tokens;
    this.#msspProbe = undefined;
    if ((end === -1 ? probe : probe.slice(0, end)).trim() !== MSSP_REQUEST) return tokens;
    this.#sendMssp((variables) => {
      this.#write([encodeText(msspPlainText(variables))]);
      void this.#connection.close('handler-ended');
    });
    return [];
  }

  #sendMssp(send: (variables: MsspVariables) => void): void {
    this.#mud!.mssp!().then(send, (err: unknown) => this.#logger.warn({ err }, 'MSSP variables failed'));
  }

  #after(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(run, ms);
    timer.unref();
    return timer;
  }
}

/**
 * What a session asks for as it opens, in order. NEW-ENVIRON waits for the terminal type: asking
 * Windows telnet for USER crashes it.
 */
function openingRequests(negotiator: OptionNegotiator, mode: InputMode, mudOptions: ReadonlySet<number>): Buffer[] {
  const results = [
    negotiator.enable('remote', OPT_TTYPE),
    negotiator.enable('remote', OPT_NAWS),
    negotiator.enable('local', OPT_EOR),
    negotiator.enable('local', OPT_CHARSET),
    ...[...mudOptions].map((option) => negotiator.enable('local', option)),
    mode === 'character' ? negotiator.enable('local', OPT_SGA) : negotiator.enable('remote', OPT_LINEMODE),
  ];
  return results.flatMap((result) => result.reply);
}

/** The opening of sessions without MUD options, by mode: negotiated once, copied by each session, its frame shared. */
const PLAIN_OPENINGS: Partial<Record<InputMode, { negotiator: OptionNegotiator; frame: Uint8Array }>> = {};

function plainOpening(mode: InputMode): { negotiator: OptionNegotiator; frame: Uint8Array } {
  let opening = PLAIN_OPENINGS[mode];
  if (opening === undefined) {
    const negotiator = new OptionNegotiator(POLICIES[mode]);
    opening = { negotiator, frame: Buffer.concat(openingRequests(negotiator, mode, NO_MUD_OPTIONS)) };
    PLAIN_OPENINGS[mode] = opening;
  }
  return opening;
}

/**
 * Option lists by which of LISTED_OPTIONS are on at each side, shared by every session with the
 * same ones on: clients settle on a few sets, and each connect would otherwise build its list.
 */
const OPTION_LISTS = new Map<number, readonly string[]>();
/** A client switching options at will makes new sets: past this many, lists are built but not kept. */
const MAX_OPTION_LISTS = 1024;

function optionList(local: number, remote: number): readonly string[] {
  const key = (local << LISTED_OPTIONS.length) | remote;
  let list = OPTION_LISTS.get(key);
  if (list === undefined) {
    const labels: string[] = [];
    for (let i = 0; i < LISTED_OPTIONS.length; i++) {
      if ((local & (1 << i)) !== 0) labels.push(optionLabel(LISTED_OPTIONS[i]!, 'local'));
      if ((remote & (1 << i)) !== 0) labels.push(optionLabel(LISTED_OPTIONS[i]!, 'remote'));
    }
    // A copy holds just its labels, where the array grown by push keeps 17 slots (152 bytes).
    list = Object.freeze(labels.slice());
    if (OPTION_LISTS.size < MAX_OPTION_LISTS) OPTION_LISTS.set(key, list);
  }
  return list;
}

/** "ECHO (server)", "NAWS (client)": made once per option and side, and shared by every session's list. */
const OPTION_LABELS = new Map<number, string>();

function optionLabel(option: number, side: 'local' | 'remote'): string {
  const key = side === 'local' ? option : -1 - option;
  let label = OPTION_LABELS.get(key);
  if (label === undefined) {
    label = `${optionName(option)} (${side === 'local' ? 'server' : 'client'})`;
    OPTION_LABELS.set(key, label);
  }
  return label;
}
