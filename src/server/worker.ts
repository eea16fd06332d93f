// A cluster worker: serves the config as a launcher of its own would, shares the application with
// the other workers through the primary, and stops when the primary says so.
import type { Logger } from 'pino';

import { BusHub } from '../hub/bus-hub.js';
import { IpcBus } from '../hub/ipc-bus.js';
import type { IpcChannel } from '../hub/ipc-bus.js';
import type { RenderedMetrics } from '../monitor/metrics.js';
import type { MetricsSample, PrimaryMessage, WorkerMessage } from './cluster.js';
import { launchServers } from './launcher.js';
import type { Launch } from './launcher.js';
import type { WorkerSetup } from './worker-setup.js';

/** What the command line gives a worker besides its setup. */
export interface WorkerOptions {
  logger: Logger;
  /** The lines a launcher prints once it serves; the primary prints the first worker's. */
  startupLines(launch: Launch): Promise<string[]>;
  /** Exit code of a failed start (a setup problem, as for one process). */
  setupExitCode: number;
  /** Exit code of a stop that failed. */
  runtimeExitCode: number;
}

/** Starts serving and tells the primary; resolves once serving. A failed start is reported to the primary and exits. */
export async function serveAsWorker(setup: WorkerSetup, options: WorkerOptions): Promise<void> {
  const logger = options.logger;
  const channel = processChannel();
  // A terminal's Ctrl-C and systemd's stop signal the whole process group: acting on them here
  // would race the primary, which stops every worker and knows not to restart them.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => logger.debug({ signal }, 'signal left to the primary'));
  }
  const metricsAnswers = new Map<number, (answer: RenderedMetrics | undefined) => void>();
  let nextMetricsId = 0;
  let launch: Launch | undefined;
  // The primary says stop only once this worker has said it serves.
  const stop = (): void => {
    launch?.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'worker did not stop cleanly');
        process.exit(options.runtimeExitCode);
      },
    );
  };
  process.on('message', (message: PrimaryMessage) => {
    switch (message.chuk) {
      case 'stop':
        stop();
        break;
      case 'reload-tls':
        void launch?.reloadTls();
        break;
      case 'metrics-collect':
        sampleMetrics(launch).then(
          (sample) => post(channel, { chuk: 'metrics-sample', id: message.id, sample }),
          (err: unknown) => {
            // Answered all the same: the scrape goes out with the other workers' metrics, not after a timeout.
            logger.error({ err }, 'metrics could not be read');
            post(channel, { chuk: 'metrics-sample', id: message.id, sample: undefined });
          },
        );
        break;
      case 'metrics':
        metricsAnswers.get(message.id)?.(
          message.body === undefined ? undefined : { contentType: message.contentType, body: message.body },
        );
        metricsAnswers.delete(message.id);
        break;
    }
  });
  const renderMetrics = (): Promise<RenderedMetrics> =>
    new Promise((resolve, reject) => {
      const id = nextMetricsId++;
      metricsAnswers.set(id, (answer) =>
        answer === undefined ? reject(new Error('the workers’ metrics could not be aggregated')) : resolve(answer),
      );
      post(channel, { chuk: 'metrics-request', id });
    });
  try {
    // With a Redis hub configured the launcher builds it, and every worker is an instance of it;
    // otherwise the workers share the application through the primary.
    const hub =
      setup.config.application.hub === undefined
        ? new BusHub({ bus: new IpcBus(channel), via: 'ipc', logger })
        : undefined;
    launch = await launchServers(setup.config, { logger, hub, monitorToken: setup.monitorToken, renderMetrics });
    post(channel, { chuk: 'ready', lines: await options.startupLines(launch) });
  } catch (err) {
    // The primary reports the error, once for every worker; exiting waits until it has it.
    const failed: WorkerMessage = { chuk: 'failed', message: (err as Error).message };
    await new Promise((resolve) => channel.send(failed, resolve));
    process.exit(options.setupExitCode);
  }
}

async function sampleMetrics(launch: Launch | undefined): Promise<MetricsSample | undefined> {
  return launch?.observability?.metrics?.sample();
}

/** This process's channel to the primary. */
function processChannel(): IpcChannel {
  return {
    send: (message, callback) => process.send!(message, undefined, undefined, callback),
    on: (event: 'message' | 'disconnect', listener: (message: unknown) => void) => process.on(event, listener),
    off: (event: 'message' | 'disconnect', listener: (message: unknown) => void) => process.off(event, listener),
  };
}

function post(channel: IpcChannel, message: WorkerMessage): void {
  // The primary gone means this worker is about to be ended too (cluster exits a worker on disconnect).
  channel.send(message, () => undefined);
}
