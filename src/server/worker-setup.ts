// What a cluster's primary hands each worker, through the environment: small, so that one process loads nothing more.
import type { Config } from '../config/schema.js';

/** The environment variable that makes a launcher process a worker, holding its WorkerSetup as JSON. */
export const WORKER_SETUP_ENV = 'CHUK_WORKER_SETUP';

/** What the primary decides once for every worker, so that all of them agree. */
export interface WorkerSetup {
  /** The parsed config, with free ports chosen for port 0 (every worker must listen on the same one). */
  config: Config;
  /** The token used wherever the monitor needs one and none is set: printed once, valid on every worker. */
  monitorToken: string;
  /** 1 to N; a restarted worker keeps the number of the one it replaces. */
  index: number;
}

/**
 * The setup the primary gave this process, if it is a worker. Taken out of the environment, so
 * that processes a handler starts are not taken for workers.
 */
export function takeWorkerSetup(): WorkerSetup | undefined {
  const text = process.env[WORKER_SETUP_ENV];
  if (text === undefined) return undefined;
  delete process.env[WORKER_SETUP_ENV];
  return JSON.parse(text) as WorkerSetup;
}
