// MCCP2 and MCCP3, the Mud Client Compression Protocol (telnet options 86 and 87): markers and zlib settings.

import type { ZlibOptions } from 'node:zlib';

import { OPT_MCCP2, OPT_MCCP3 } from './constants.js';
import { subnegotiation } from './encoder.js';

/** IAC SB MCCP2 IAC SE: everything the server sends after it is one zlib stream (MCCP2). */
export const START_MCCP2 = subnegotiation(OPT_MCCP2, []);
/** IAC SB MCCP3 IAC SE: everything the client sends after it is one zlib stream (MCCP3). */
export const START_MCCP3 = subnegotiation(OPT_MCCP3, []);

/**
 * Deflate for MCCP2: a 4 KiB window and memLevel 5. In Node 20 a stream that has compressed
 * something holds about 110 KiB (zlib's defaults, a 32 KiB window and memLevel 8, about 230 KiB;
 * Node's zlib keeps near 80 KiB whatever the settings); MUD text, whose repeats (prompts, room
 * names, colour codes) sit close together, loses little: prose flushed every few lines shrinks to
 * 0.46 of its size against 0.38. Any zlib inflater reads a smaller window than its own, so clients
 * need no setting. `npm run bench -- --only mccp` measures both.
 */
export const DEFLATE_OPTIONS: Readonly<ZlibOptions> = { windowBits: 12, memLevel: 5, level: 6, chunkSize: 4096 };

/**
 * Inflate for MCCP3: the client chose its window, so ours must take the largest (32 KiB);
 * zlib allocates it only once the stream's first block needs it.
 */
export const INFLATE_OPTIONS: Readonly<ZlibOptions> = { windowBits: 15, chunkSize: 4096 };
