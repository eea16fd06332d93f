// Workers: the primary forks launcher processes that serve every port together (node:cluster
// round robin), relays their bus, answers metrics for all of them, restarts one that dies and
// stops them together. Loaded only when `workers` is above 1.
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import net from 'node:net';

import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

import type { Config } from '../config/schema.js';
import { ServerStartError } from '../errors.js';
import { BusRelay } from '../hub/ipc-bus.js';
import { newToken } from '../monitor/access.js';
import { loadSshHostKey } from './endpoints.js';
import { WORKER_SETUP_ENV } from './worker-setup.js';
import type { WorkerSetup } from './worker-setup.js';

/** A worker's JSON samples of its metrics registry, as prom-client's aggregator takes them. */
export type MetricsSample = Array<MetricObjectWithValues<MetricValue<string>>>;

/** Worker to primary. */
export type WorkerMessage =
  | { chuk: 'ready'; lines: string[] }
  | { chuk: 'failed'; message: string }
  /** A scrape reached this worker: it wants every worker's metrics. */
  | { chuk: 'metrics-request'; id: number }
  | { chuk: 'metrics-sample'; id: number; sample: MetricsSample | undefined };

/** Primary to worker. */
export type PrimaryMessage =
  | { chuk: 'stop' }
  | { chuk: 'reload-tls' }
  | { chuk: 'metrics-collect'; id: number }
  | { chuk: 'metrics'; id: number; body: string | undefined; contentType: string };

/** Workers started by `startCluster`, as the command line drives them. */
export interface Cluster {
  /** The lines the first worker to start would print: every server's URL, the monitor's. */
  readonly lines: string[];
  /** Tells every worker to stop gracefully (the shutdown notice to its users) and waits for all to exit; idempotent. */
  stop(): Promise<void>;
  /** Every worker reloads its TLS certificates (SIGHUP). */
  reloadTls(): Promise<void>;
}

/** The first restart of a worker that keeps dying waits this long, and each next one twice as long. */
const RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that ran this long before it died is restarted at once: it was not crashing on start. */
const STABLE_AFTER_MS = 30_000;
/** How long the primary waits for the workers' metrics before answering a scrape without the late ones. */
const METRICS_TIMEOUT_MS = 5000;

/**
 * Forks `workers` launcher processes (this script, with a WorkerSetup in the environment) and
 * resolves once every one serves. A worker that fails to start stops the others; the error is
 * its message, thrown as a ServerStartError.
 */
export async function startCluster(config: Config, options: { workers: number; logger: Logger }): Promise<Cluster> {
  const logger = options.logger.child({ component: 'cluster' });
  // Chosen here, once: a port 0 resolved by each worker would be a different port in each, or
  // the same port for every server of a worker (cluster shares a listener by address and port).
  await resolveFreePorts(config);
  // Made here: workers starting together would each make a key, and overwrite each other's.
  for (const server of config.servers) if (server.transport === 'ssh') await loadSshHostKey(server);
  const primary = new Primary(config, newToken(), logger);
  try {
    return await primary.start(options.workers);
  } catch (err) {
    primary.kill();
    throw err;
  }
}

/** A scrape being answered: the samples so far, the workers yet to send theirs. */
interface MetricsRequest {
  samples: MetricsSample[];
  pending: Set<Worker>;
  done(): void;
}

/** One worker slot: the process serving it now, and how often it has died lately. */
interface Slot {
  index: number;
  worker: Worker | undefined;
  /** Whether its worker has said it serves (and so listens for the primary's messages). */
  isReady: boolean;
  startedAt: number;
  crashes: number;
  restartTimer: NodeJS.Timeout | undefined;
}

class Primary implements Cluster {
  lines: string[] = [];
  #config: Config;
  #monitorToken: string;
  #logger: Logger;
  #relay = new BusRelay();
  #slots: Slot[] = [];
  #stopping: Promise<void> | undefined;
  #failedExits = 0;
  #metricsRequests = new Map<number, MetricsRequest>();
  #nextMetricsId = 0;

  constructor(config: Config, monitorToken: string, logger: Logger) {
    this.#config = config;
    this.#monitorToken = monitorToken;
    this.#logger = logger;
  }

  start(workers: number): Promise<Cluster> {
    return new Promise((resolve, reject) => {
      let ready = 0;
      for (let index = 1; index <= workers; index++) {
        const slot: Slot = {
          index,
          worker: undefined,
          isReady: false,
          startedAt: 0,
          crashes: 0,
          restartTimer: undefined,
        };
        this.#slots.push(slot);
        this.#fork(slot, {
          ready: (lines) => {
            if (ready === 0) this.lines = lines;
            if (++ready === workers) resolve(this);
          },
          failed: (message) => reject(new ServerStartError(message)),
        });
      }
    });
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const exits = this.#slots.map((slot) => {
        clearTimeout(slot.restartTimer);
        const { worker } = slot;
        if (worker === undefined || worker.isDead()) return Promise.resolve();
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        // One still starting has no listener for it yet: it is told once it is ready.
        if (slot.isReady) post(worker, { chuk: 'stop' });
        return exited;
      });
      await Promise.all(exits);
      if (this.#failedExits > 0) throw new Error(`${this.#failedExits} worker(s) did not stop cleanly`);
    })();
    return this.#stopping;
  }

  reloadTls(): Promise<void> {
    for (const slot of this.#slots)
      if (slot.worker !== undefined && slot.isReady) post(slot.worker, { chuk: 'reload-tls' });
    return Promise.resolve();
  }

  /** Ends every worker at once: for a failed start, before anyone was served. */
  kill(): void {
    this.#stopping ??= Promise.resolve();
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      slot.worker?.process.kill('SIGKILL');
    }
  }

  /**
   * Forks the worker of `slot`. `starting` hears of the first start's outcome; a restarted
   * worker that fails to start is logged and restarted again, later.
   */
  #fork(slot: Slot, starting?: { ready(lines: string[]): void; failed(message: string): void }): void {
    const setup: WorkerSetup = { config: this.#config, monitorToken: this.#monitorToken, index: slot.index };
    const worker = cluster.fork({ [WORKER_SETUP_ENV]: JSON.stringify(setup) });
    slot.worker = worker;
    slot.isReady = false;
    slot.startedAt = Date.now();
    const detach = this.#relay.attach(worker);
    worker.on('message', (message: WorkerMessage) => {
      switch (message.chuk) {
        case 'ready':
          slot.isReady = true;
          // A worker that was still starting when the stop came could not hear it then.
          if (this.#stopping !== undefined) post(worker, { chuk: 'stop' });
          if (starting === undefined) {
            this.#logger.info(
              { worker: slot.index, workerPid: worker.process.pid },
              `worker ${slot.index} serves again`,
            );
          }
          starting?.ready(message.lines);
          break;
        case 'failed':
          if (starting !== undefined) starting.failed(message.message);
          else this.#logger.error({ worker: slot.index }, `worker could not start: ${message.message}`);
          break;
        case 'metrics-request':
          void this.#collectMetrics().then(
            (body) =>
              post(worker, {
                chuk: 'metrics',
                id: message.id,
                body,
                contentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE,
              }),
            (err: unknown) => {
              this.#logger.error({ err }, 'metrics of the workers could not be aggregated');
              post(worker, { chuk: 'metrics', id: message.id, body: undefined, contentType: '' });
            },
          );
          break;
        case 'metrics-sample':
          this.#metricsRequests.get(message.id)?.samples.push(message.sample ?? []);
          this.#answered(message.id, worker);
          break;
      }
    });
    worker.on('exit', (code, signal) => {
      detach();
      for (const id of this.#metricsRequests.keys()) this.#answered(id, worker);
      if (this.#stopping !== undefined) {
        if (code !== 0) {
          this.#failedExits++;
          this.#logger.error(
            { worker: slot.index, workerPid: worker.process.pid, code, signal },
            'worker did not stop cleanly',
          );
        }
        return;
      }
      if (!slot.isReady && starting !== undefined) {
        starting.failed(`worker ${slot.index} exited while starting (${signal ?? `code ${code}`})`);
        return;
      }
      this.#restart(slot, code, signal);
    });
  }

  #restart(slot: Slot, code: number | null, signal: string | null): void {
    const { worker } = slot;
    slot.crashes = Date.now() - slot.startedAt >= STABLE_AFTER_MS ? 1 : slot.crashes + 1;
    const delayMs = slot.crashes === 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** (slot.crashes - 2));
    this.#logger.error(
      { worker: slot.index, workerPid: worker?.process.pid, code, signal, restartInMs: delayMs },
      `worker ${slot.index} exited (${signal ?? `code ${code}`}); its sessions are gone; restarting it`,
    );
    slot.worker = undefined;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#stopping === undefined) this.#fork(slot);
    }, delayMs);
  }

  /** Every worker's metrics, merged by prom-client's aggregator (sums, or each metric's own rule). */
  #collectMetrics(): Promise<string> {
    const id = this.#nextMetricsId++;
    const workers = this.#slots.flatMap((slot) => (slot.isReady && slot.worker?.isConnected() ? [slot.worker] : []));
    return new Promise<string>((resolve, reject) => {
      const request: MetricsRequest = {
        samples: [],
        pending: new Set(workers),
        done: () => {
          clearTimeout(timer);
          this.#metricsRequests.delete(id);
          try {
            resolve(AggregatorRegistry.aggregate(request.samples).metrics());
          } catch (err) {
            reject(err as Error);
          }
        },
      };
      // A worker that hangs must not hang the scrape: the others' metrics go out without its.
      const timer = setTimeout(() => request.done(), METRICS_TIMEOUT_MS);
      this.#metricsRequests.set(id, request);
      for (const worker of workers) post(worker, { chuk: 'metrics-collect', id });
      if (workers.length === 0) request.done();
    });
  }

  #answered(id: number, worker: Worker): void {
    const request = this.#metricsRequests.get(id);
    if (request === undefined || !request.pending.delete(worker)) return;
    if (request.pending.size === 0) request.done();
  }
}

function post(worker: Worker, message: PrimaryMessage): void {
  // A worker that exited meanwhile needs nothing more; its exit is handled where it is heard.
  worker.send(message, undefined, undefined, () => undefined);
}

/** Gives every server (and the monitor port) configured with port 0 a port that is free now. */
async function resolveFreePorts(config: Config): Promise<void> {
  for (const server of config.servers) if (server.port === 0) server.port = await freePort(server.host);
  const { application } = config;
  if (application.monitorPort === 0) application.monitorPort = await freePort(application.monitorHost);
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
