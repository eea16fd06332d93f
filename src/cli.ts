#!/usr/bin/env node
// server-launcher's entry: starts the command with V8 kept lean, then lets V8 size itself to the load.
import { setFlagsFromString } from 'node:v8';

import {
  growYoungGenerationToCap,
  holdYoungGenerationInEveryThread,
  reduceMemoryAfterBursts,
  regrowYoungGenerationAfterShrinks,
} from './server/heap-policy.js';

// Start-up (loading modules, reading the config) makes garbage fast, and V8 answers by growing its
// young generation to 16 MB, which an idle launcher then keeps resident; and it optimizes the
// functions that load modules, paging in some 3 MB of optimizing compiler for code that never runs
// again. Both wait until the command serves. Then the young generation may grow with the load, up
// to YOUNG_GENERATION_CAP: V8 would take it to 32 MB, which a server keeps resident for good once
// a burst of connections (sessions that survive their first collections) has grown it, 4 KB and
// more per idle connection. Past the cap, collections are more frequent but each is shorter.
// Once a burst of sessions is over, one full collection gives back what connecting left in the
// old generation (see MemoryReducer).

const nodeFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
// Young-generation flags on node's command line or in NODE_OPTIONS are the user's: V8 is left to them.
const isYoungGenerationSized = nodeFlags.some((flag) =>
  /^--((max|min)[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)/.test(flag),
);
// Turning V8's memory reducer off says no pause to give memory back is wanted: ours stays off too.
const isMemoryReducerOff = nodeFlags.some((flag) => /^--no[-_]memory[-_]reducer$/.test(flag));

if (!isYoungGenerationSized) holdYoungGenerationInEveryThread();
setFlagsFromString('--no-turbofan');
await import('./command.js');
setFlagsFromString('--turbofan');
if (!isYoungGenerationSized) {
  growYoungGenerationToCap();
  regrowYoungGenerationAfterShrinks();
}
if (!isMemoryReducerOff) reduceMemoryAfterBursts();
