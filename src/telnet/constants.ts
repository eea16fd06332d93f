// Telnet command, option and subnegotiation bytes (RFC 854, 855, 1091, 1073, 1184, 1572, 2066, 885; MUD protocols).

// Commands (RFC 854; EOR from RFC 885).
export const IAC = 255;
export const DONT = 254;
export const DO = 253;
export const WONT = 252;
export const WILL = 251;
export const SB = 250;
export const GA = 249;
export const EL = 248;
export const EC = 247;
export const AYT = 246;
export const AO = 245;
export const IP = 244;
export const BRK = 243;
export const DM = 242;
export const NOP = 241;
export const SE = 240;
export const EOR = 239;

// NVT characters with meaning at line ends (RFC 854): CR must be followed by LF or NUL.
export const NUL = 0;
export const LF = 10;
export const CR = 13;

// Options (IANA telnet option registry).
export const OPT_BINARY = 0;
export const OPT_ECHO = 1;
export const OPT_SGA = 3;
export const OPT_STATUS = 5;
export const OPT_TIMING_MARK = 6;
export const OPT_TTYPE = 24;
export const OPT_EOR = 25;
export const OPT_NAWS = 31;
export const OPT_LINEMODE = 34;
export const OPT_NEW_ENVIRON = 39;
export const OPT_CHARSET = 42;
export const OPT_MSDP = 69;
export const OPT_MSSP = 70;
export const OPT_MCCP2 = 86;
export const OPT_MCCP3 = 87;
export const OPT_GMCP = 201;

// TERMINAL-TYPE subnegotiation (RFC 1091).
export const TTYPE_IS = 0;
export const TTYPE_SEND = 1;

// NEW-ENVIRON subnegotiation (RFC 1572).
export const ENV_IS = 0;
export const ENV_SEND = 1;
export const ENV_INFO = 2;
export const ENV_VAR = 0;
export const ENV_VALUE = 1;
export const ENV_ESC = 2;
export const ENV_USERVAR = 3;

// CHARSET subnegotiation (RFC 2066).
export const CHARSET_REQUEST = 1;
export const CHARSET_ACCEPTED = 2;
export const CHARSET_REJECTED = 3;

// MSDP subnegotiation (Mud Server Data Protocol).
export const MSDP_VAR = 1;
export const MSDP_VAL = 2;
export const MSDP_TABLE_OPEN = 3;
export const MSDP_TABLE_CLOSE = 4;
export const MSDP_ARRAY_OPEN = 5;
export const MSDP_ARRAY_CLOSE = 6;

// MSSP subnegotiation (Mud Server Status Protocol).
export const MSSP_VAR = 1;
export const MSSP_VAL = 2;

// LINEMODE subnegotiation (RFC 1184).
export const LM_MODE = 1;
export const LM_FORWARDMASK = 2;
export const LM_SLC = 3;
export const MODE_EDIT = 1;
export const MODE_TRAPSIG = 2;
export const MODE_ACK = 4;
// SLC functions, levels and flags (RFC 1184 section 2.3).
export const SLC_BRK = 2;
export const SLC_IP = 3;
export const SLC_AO = 4;
export const SLC_AYT = 5;
export const SLC_ABORT = 7;
export const SLC_EOF = 8;
export const SLC_SUSP = 9;
export const SLC_EC = 10;
export const SLC_EL = 11;
export const SLC_EW = 12;
export const SLC_RP = 13;
export const SLC_LNEXT = 14;
export const SLC_XON = 15;
export const SLC_XOFF = 16;
export const SLC_NOSUPPORT = 0;
export const SLC_CANTCHANGE = 1;
export const SLC_VARIABLE = 2;
export const SLC_DEFAULT = 3;
export const SLC_LEVELBITS = 3;
export const SLC_ACK = 0x80;

const OPTION_NAMES: ReadonlyMap<number, string> = new Map([
  [OPT_BINARY, 'BINARY'],
  [OPT_ECHO, 'ECHO'],
  [OPT_SGA, 'SGA'],
  [OPT_STATUS, 'STATUS'],
  [OPT_TIMING_MARK, 'TIMING-MARK'],
  [OPT_TTYPE, 'TTYPE'],
  [OPT_EOR, 'EOR'],
  [OPT_NAWS, 'NAWS'],
  [OPT_LINEMODE, 'LINEMODE'],
  [OPT_NEW_ENVIRON, 'NEW-ENVIRON'],
  [OPT_CHARSET, 'CHARSET'],
  [OPT_MSDP, 'MSDP'],
  [OPT_MSSP, 'MSSP'],
  [OPT_MCCP2, 'MCCP2'],
  [OPT_MCCP3, 'MCCP3'],
  [OPT_GMCP, 'GMCP'],
]);

const COMMAND_NAMES: ReadonlyMap<number, string> = new Map([
  [IAC, 'IAC'],
  [DONT, 'DONT'],
  [DO, 'DO'],
  [WONT, 'WONT'],
  [WILL, 'WILL'],
  [SB, 'SB'],
  [GA, 'GA'],
  [EL, 'EL'],
  [EC, 'EC'],
  [AYT, 'AYT'],
  [AO, 'AO'],
  [IP, 'IP'],
  [BRK, 'BRK'],
  [DM, 'DM'],
  [NOP, 'NOP'],
  [SE, 'SE'],
  [EOR, 'EOR'],
]);

/** Readable name of a telnet option for debug logs, e.g. "NAWS" or "option 99". */
export function optionName(option: number): string {
  return OPTION_NAMES.get(option) ?? `option ${option}`;
}

/** Readable name of a telnet command byte for debug logs, e.g. "AYT" or "command 12". */
export function commandName(cmd: number): string {
  return COMMAND_NAMES.get(cmd) ?? `command ${cmd}`;
}
