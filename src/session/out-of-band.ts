// Out-of-band data for MUD clients as handlers use it: GMCP and MSDP channels, whichever layer carries them.
import { GmcpCore } from '../telnet/gmcp.js';
import type { GmcpClientInfo, GmcpMessage } from '../telnet/gmcp.js';
import { encodeMsdp, msdpCommands } from '../telnet/msdp.js';
import type { MsdpCommand, MsdpVariables } from '../telnet/msdp.js';

/** GMCP to and from this session's client. */
export interface GmcpChannel {
  /** Whether the client agreed to GMCP; until it does, send() sends nothing. */
  readonly isEnabled: boolean;
  /** Sends "Package.Message <JSON>"; returns false (sending nothing) when GMCP is not on. */
  send(message: string, data?: unknown): boolean;
  /** Whether the client listed the package (or one above it: "Char" covers "Char.Vitals") in Core.Supports. */
  supports(name: string): boolean;
  /** What the client said of itself in Core.Hello. */
  readonly client: GmcpClientInfo;
}

/** MSDP to and from this session's client. */
export interface MsdpChannel {
  /** Whether the client agreed to MSDP; until it does, send() sends nothing. */
  readonly isEnabled: boolean;
  /** Sends the variables; returns false (sending nothing) when MSDP is not on. */
  send(variables: MsdpVariables): boolean;
  /** Sends only the variables the client asked to have reported (REPORT); false when none were sent. */
  update(variables: MsdpVariables): boolean;
  /** Variables the client asked to have reported (REPORT, less UNREPORT and RESET). */
  readonly reported: ReadonlySet<string>;
}

/** What a layer hands its session when a client sends out-of-band data. */
export interface OutOfBandEvents {
  gmcp?(message: GmcpMessage): void;
  msdp?(variables: MsdpVariables): void;
  msdpCommand?(command: MsdpCommand, names: string[]): void;
}

const NO_CLIENT: GmcpClientInfo = Object.freeze({ client: undefined, version: undefined });

/** The channel of a session whose client has no GMCP (plain TCP, SSH, a server without gmcp). */
export const NO_GMCP: GmcpChannel = Object.freeze({
  isEnabled: false,
  send: () => false,
  supports: () => false,
  client: NO_CLIENT,
});

/** The channel of a session whose client has no MSDP. */
export const NO_MSDP: MsdpChannel = Object.freeze({
  isEnabled: false,
  send: () => false,
  update: () => false,
  reported: new Set<string>(),
});

/** A GMCP channel over some framing: the layer says whether it is on and how a message goes out. */
export class GmcpSession implements GmcpChannel {
  readonly #core = new GmcpCore();
  readonly #isOn: () => boolean;
  readonly #write: (message: string, data: unknown) => void;

  constructor(isOn: () => boolean, write: (message: string, data: unknown) => void) {
    this.#isOn = isOn;
    this.#write = write;
  }

  get isEnabled(): boolean {
    return this.#isOn();
  }

  get client(): GmcpClientInfo {
    return this.#core.client;
  }

  send(message: string, data?: unknown): boolean {
    if (!this.#isOn()) return false;
    this.#write(message, data);
    return true;
  }

  supports(name: string): boolean {
    return this.#core.supports(name);
  }

  /** A message from the client: Core messages update what is known of it; all go on to the handler. */
  receive(message: GmcpMessage, events: OutOfBandEvents): void {
    this.#core.apply(message);
    events.gmcp?.(message);
  }
}

/** Variables reported at most: REPORT lists come from the client. */
const MAX_REPORTED = 256;

/** An MSDP channel over telnet. */
export class MsdpSession implements MsdpChannel {
  readonly #reported = new Set<string>();
  readonly #isOn: () => boolean;
  readonly #write: (bytes: Uint8Array) => void;

  constructor(isOn: () => boolean, write: (bytes: Uint8Array) => void) {
    this.#isOn = isOn;
    this.#write = write;
  }

  get isEnabled(): boolean {
    return this.#isOn();
  }

  get reported(): ReadonlySet<string> {
    return this.#reported;
  }

  send(variables: MsdpVariables): boolean {
    if (!this.#isOn()) return false;
    this.#write(encodeMsdp(variables));
    return true;
  }

  update(variables: MsdpVariables): boolean {
    const wanted = Object.entries(variables).filter(([name]) => this.#reported.has(name));
    return wanted.length > 0 && this.send(Object.fromEntries(wanted));
  }

  /** Variables from the client: REPORT, UNREPORT and RESET update `reported`; commands and the rest go to the handler. */
  receive(variables: MsdpVariables, events: OutOfBandEvents): void {
    const commands = msdpCommands(variables);
    for (const { command, names } of commands) {
      if (command === 'REPORT') {
        for (const name of names) if (this.#reported.size < MAX_REPORTED) this.#reported.add(name);
      } else if (command === 'UNREPORT') {
        for (const name of names) this.#reported.delete(name);
      } else if (command === 'RESET') {
        this.#reported.clear();
      }
      events.msdpCommand?.(command, names);
    }
    const rest = Object.entries(variables).filter(([name]) => !commands.some((found) => found.command === name));
    if (rest.length > 0) events.msdp?.(Object.fromEntries(rest));
  }
}
