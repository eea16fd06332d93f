// MCCP2 and MCCP3, the Mud Client Compression Protocol (telnet options 86 and 87): markers and zlib settings.

import type { ZlibOptions } from 'node:zlib';

import { OPT_MCCP2, OPT_MCCP3 } from './constants.js';
import { subnegotiation } from './encoder.js';

/** IAC SB MCCP2 IAC SE: everything the server sends after it is one zlib stream (MCCP2). */
export const START_MCCP2 = subnegotiation(OPT_MCCP2, []);
/** IAC SB MCCP3 IAC SE: everything the client sends after it is one zlib stream (MCCP3). */
export const START_MCCP3 = subnegotiation(OPT_MCCP3, []);

/**
 * Deflate for MCCP2. zlib's defaults (a 32 KiB window, memLevel 8) cost about 256 KiB a
 * stream; a 4 KiB window and memLevel 5 cost 16 + 16 KiB and lose little on MUD text, whose
 * repeats (prompts, room names, colour codes) sit close together. Any zlib inflater reads a
 * smaller window than its own, so clients need no setting. See `npm run bench` (mccp2).
 */
export const DEFLATE_OPTIONS: Readonly<ZlibOptions> = { windowBits: 12, memLevel: 5, level: 6, chunkSize: 4096 };

/**
 * Inflate for MCCP3: the client chose its window, so ours must take the largest (32 KiB);
 * zlib allocates it only once the stream's first block needs it.
 */
export const INFLATE_OPTIONS: Readonly<ZlibOptions> = { windowBits: 15, chunkSize: 4096 };
