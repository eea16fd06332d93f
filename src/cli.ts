#!/usr/bin/env node
// server-launcher's entry: starts the command with V8 kept lean, then lets V8 size itself to the load.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';

// Start-up (loading modules, reading the config) makes garbage fast, and V8 answers by growing its
// young generation to 16 MB, which an idle launcher then keeps resident; and it optimizes the
// functions that load modules, paging in some 3 MB of optimizing compiler for code that never runs
// again. Both wait until the command serves. Then the young generation grows by 8 at once when load
// asks for more, straight back to the 16 MB a start-up gave it, so that a loaded server scavenges as
// often as it always did.
const holdYoungGeneration = (): void => setFlagsFromString('--semi-space-growth-factor=1');
// A new thread's isolate (the config's worker, tsx's module hooks) puts the factor back to V8's minimum of 2.
const holdAgainOnline = (message: unknown): void => {
  (message as { worker: Worker }).worker.once('online', holdYoungGeneration);
};

holdYoungGeneration();
setFlagsFromString('--no-turbofan');
subscribe('worker_threads', holdAgainOnline);
await import('./command.js');
unsubscribe('worker_threads', holdAgainOnline);
setFlagsFromString('--turbofan');
setFlagsFromString('--semi-space-growth-factor=8');
