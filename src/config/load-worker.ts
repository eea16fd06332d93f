// The worker thread of loadConfigInWorker: the YAML parser, zod and their garbage live and die here.
import { parentPort, workerData } from 'node:worker_threads';

import { ConfigError } from '../errors.js';
import { loadConfigRequest } from './load.js';
import type { ConfigReply, ConfigRequest } from './load.js';

parentPort!.postMessage(await load(workerData as ConfigRequest));

async function load(request: ConfigRequest): Promise<ConfigReply> {
  try {
    return { config: await loadConfigRequest(request) };
  } catch (err) {
    // Anything else is a bug, and reaches the launcher whole as the worker's error.
    if (!(err instanceof ConfigError)) throw err;
    return { configError: err.message };
  }
}
