#!/usr/bin/env node
// server-launcher's entry: starts the command with V8 kept lean, then lets V8 size itself to the load.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';

// Start-up (loading modules, reading the config) makes garbage fast, and V8 answers by growing its
// young generation to 16 MB, which an idle launcher then keeps resident; and it optimizes the
// functions that load modules, paging in some 3 MB of optimizing compiler for code that never runs
// again. Both wait until the command serves. Then the young generation may grow with the load, up
// to YOUNG_GENERATION_CAP: V8 would take it to 32 MB, which a server keeps resident for good once
// a burst of connections (sessions that survive their first collections) has grown it, 4 KB and
// more per idle connection. Past the cap, collections are more frequent but each is shorter.

/** Both semi-spaces of the young generation, in bytes, past which it grows no more. */
const YOUNG_GENERATION_CAP = 8 * 1024 * 1024;

const holdYoungGeneration = (): void => setFlagsFromString('--semi-space-growth-factor=1');
// A new thread's isolate (the config's worker, tsx's module hooks) puts the factor back to V8's minimum of 2.
const holdAgainOnline = (message: unknown): void => {
  (message as { worker: Worker }).worker.once('online', holdYoungGeneration);
};
// Young-generation flags on node's command line or in NODE_OPTIONS are the user's: V8 is left to them.
const isYoungGenerationSized = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((flag) =>
  /^--((max|min)[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)/.test(flag),
);

if (!isYoungGenerationSized) {
  holdYoungGeneration();
  subscribe('worker_threads', holdAgainOnline);
}
setFlagsFromString('--no-turbofan');
await import('./command.js');
setFlagsFromString('--turbofan');
if (!isYoungGenerationSized) {
  unsubscribe('worker_threads', holdAgainOnline);
  growYoungGenerationToCap();
}

/** Lets the young generation grow, V8's way, until it reaches the cap; then holds it there. */
function growYoungGenerationToCap(): void {
  setFlagsFromString('--semi-space-growth-factor=2');
  const observer = new PerformanceObserver(() => {
    const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    if (young === undefined || young.space_size < YOUNG_GENERATION_CAP) return;
    observer.disconnect();
    holdYoungGeneration();
    subscribe('worker_threads', holdAgainOnline);
  });
  observer.observe({ entryTypes: ['gc'] });
}
