// The server-launcher command: command-line arguments to running servers, and back out on a signal.
import { createRequire } from 'node:module';

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import type { Logger } from 'pino';

import { loadConfigInWorker } from './config/load.js';
import type { ConfigOverrides } from './config/overrides.js';
import { MAX_WORKERS, TRANSPORTS } from './config/schema.js';
import type { Config } from './config/schema.js';
import { ProtocolServerError } from './errors.js';
import type { ProjectOptions } from './scaffold/project.js';
import { loadSshHostKey } from './server/endpoints.js';
import { launchServers } from './server/launcher.js';
import type { Launch } from './server/launcher.js';
import { takeWorkerSetup } from './server/worker-setup.js';

const PACKAGE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Where secrets can sit in a log line's fields, top level or one object down. */
const SECRET_PATHS = ['token', 'password', 'authorization', 'monitorToken', 'monitorAdminToken'].flatMap((key) => [
  key,
  `*.${key}`,
  `headers.${key}`,
  `*.headers.${key}`,
]);

/** Exit code for a problem found before serving (config, handler, address). */
const EXIT_SETUP = 2;
/** Exit code for a failure while running. */
const EXIT_RUNTIME = 1;

interface CliOptions {
  config?: string;
  host: string;
  port?: number;
  transport: string;
  redis?: string;
  workers?: number;
  verbose: number;
}

const program = new Command('server-launcher')
  .description('Serve a handler class over telnet, TCP, WebSocket and SSH.')
  .version(PACKAGE_VERSION, '-V, --version', 'print the version and exit')
  .argument('[handler]', 'handler to serve, as <module>:<ExportName> (instead of --config)')
  .option('-c, --config <file>', 'YAML config file with one server or a servers: map')
  .option('--host <host>', 'address to bind', '0.0.0.0')
  .option('-p, --port <port>', 'port to listen on (default: 8023, 8022 for ssh)', parsePort)
  .addOption(new Option('--transport <name>', 'transport to serve').choices(TRANSPORTS).default('telnet'))
  .option('--redis <url>', "share the application with other instances through this Redis (the config's hub.redis)")
  .option('--workers <n>', "processes serving every port together (default: the file's workers, else 1)", parseWorkers)
  .option('-v, --verbose', 'more logging: -v info, -vv debug', (_value, total: number) => total + 1, 0)
  .addHelpText(
    'after',
    `
Examples:
  server-launcher -c examples/echo-server/config.yaml
  server-launcher ./handler.ts:EchoHandler --transport tcp --port 8024
  server-launcher -c config.yaml --host 127.0.0.1 -vv
  server-launcher -c config.yaml --redis redis://10.0.0.5:6379 --port 8024
  server-launcher -c config.yaml --workers 4
  server-launcher init my-app

From a project that depends on this package, run it through npx with "--" so that
npx does not read the options: npx -- server-launcher -c config.yaml`,
  )
  // Usage errors read like every other setup error: one line, exit code 2.
  .exitOverride()
  .configureOutput({ outputError: () => undefined })
  // Serving is what the command does when no subcommand is named; the arguments are read below.
  .action(() => undefined);

let initRequest: { dir: string; options: ProjectOptions } | undefined;
// Added after exitOverride and configureOutput, which a subcommand inherits when it is made.
program
  .command('init')
  .description('write a new project: a handler, config.yaml for every transport, a test')
  .argument('<dir>', 'folder to create it in, new or empty')
  .option(
    '--registry-version <range>',
    'depend on this version range from the npm registry instead of the copy of the package running init',
  )
  .action((dir: string, initOptions: ProjectOptions) => {
    initRequest = { dir, options: initOptions };
  });

try {
  program.parse();
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // --help and --version also end here, with exit code 0.
  if (err.exitCode === 0) process.exit(0);
  const message = err.message.replace(/^error: /, '').replace(/\.?(\n[\s\S]*)?$/, '');
  process.stderr.write(`server-launcher: ${message} (see --help)\n`);
  process.exit(EXIT_SETUP);
}
if (initRequest !== undefined) {
  try {
    // Loaded only for init: serving never needs it.
    const { writeProject } = await import('./scaffold/project.js');
    process.stdout.write(await writeProject(initRequest.dir, initRequest.options));
    process.exit(0);
  } catch (err) {
    process.stderr.write(`server-launcher: init: ${(err as Error).message}\n`);
    process.exit(EXIT_SETUP);
  }
}
const handlerArgument = program.args[0];
const options = program.opts<CliOptions>();
const logger = await createLogger(options.verbose);
/** Lines about the launch itself, rather than one server or session. */
const launcherLog = logger.child({ component: 'launcher' });

await main();

async function main(): Promise<void> {
  const setup = takeWorkerSetup();
  let config: Config;
  try {
    config = setup?.config ?? (await buildConfig());
  } catch (err) {
    fail(err, EXIT_SETUP);
  }
  if (setup !== undefined) {
    const { serveAsWorker } = await import('./server/worker.js');
    await serveAsWorker(setup, {
      logger: logger.child({ worker: setup.index }),
      startupLines,
      setupExitCode: EXIT_SETUP,
      runtimeExitCode: EXIT_RUNTIME,
    });
    keepServingDespiteStrayErrors();
    return;
  }

  const workers = options.workers ?? config.application.workers;
  let running: { stop(): Promise<void>; reloadTls(): Promise<void> };
  let lines: string[];
  try {
    if (workers > 1) {
      // Loaded only for workers: one process pays nothing for the cluster.
      const { startCluster } = await import('./server/cluster.js');
      const cluster = await startCluster(config, { workers, logger });
      running = cluster;
      lines = cluster.lines;
    } else {
      const launch = await launchServers(config, { logger });
      running = launch;
      lines = await startupLines(launch);
    }
  } catch (err) {
    // Config errors name their file already; handler and address errors name it here.
    fail(err, EXIT_SETUP, options.config);
  }
  keepServingDespiteStrayErrors();

  let isStopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (isStopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(EXIT_RUNTIME);
    }
    isStopping = true;
    process.stdout.write(`${signal}: shutting down (press Ctrl-C again to exit at once)\n`);
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => fail(err, EXIT_RUNTIME),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // Run as a service, SIGHUP reloads certificates, as web servers do: a renewed one is taken
  // without dropping anyone. At a terminal it means the terminal went away: shut down.
  if (process.stdout.isTTY || process.stderr.isTTY) process.on('SIGHUP', shutdown);
  else process.on('SIGHUP', () => void running.reloadTls());
  // Printed last: whoever waits for these lines may signal at once, and the handlers are in place.
  for (const line of lines) process.stdout.write(`${line}\n`);
}

/**
 * A handler's stray promise or timer callback must not take every other session down with it:
 * sessions and servers keep no state that such an error could leave half-changed.
 */
function keepServingDespiteStrayErrors(): void {
  process.on('unhandledRejection', (reason) => {
    launcherLog.error({ err: reason }, 'unhandled rejection');
  });
  process.on('uncaughtException', (err) => {
    launcherLog.error({ err }, 'uncaught exception');
  });
}

/** What a launch prints once it serves: every server's URL, and the monitor's. */
async function startupLines(launch: Launch): Promise<string[]> {
  const lines: string[] = [];
  for (const server of launch.servers) {
    const page = server.pageUrl === undefined ? '' : ` (browser terminal: ${server.pageUrl})`;
    // What clients are asked to trust the first time they connect, as `ssh-keygen -lf` prints it.
    const hostKey =
      server.config.transport === 'ssh' ? ` (host key ${(await loadSshHostKey(server.config)).fingerprint})` : '';
    lines.push(`${server.name}: ${server.config.transport} server listening on ${server.url}${page}${hostKey}`);
  }
  const { observability } = launch;
  if (observability !== undefined) {
    for (const url of observability.accessUrls(launch.servers)) lines.push(`monitor: ${url}`);
    if (observability.generatedToken !== undefined) {
      // As Jupyter does: a monitor reachable from other machines is never open to everyone.
      lines.push('monitor: no monitor_token is set, so this token was made for this run (shown once)');
    }
  }
  return lines;
}

async function buildConfig(): Promise<Config> {
  if (options.config !== undefined && handlerArgument !== undefined) {
    throw new ProtocolServerError('give either a handler (module:Export) or --config, not both');
  }
  if (options.config === undefined) {
    if (handlerArgument === undefined) {
      throw new ProtocolServerError('nothing to serve: give a handler (module:Export) or --config FILE (see --help)');
    }
    const settings = {
      handler_class: handlerArgument,
      host: options.host,
      port: options.port,
      transport: options.transport,
      ...(options.redis === undefined ? {} : { hub: { redis: options.redis } }),
    };
    return loadConfigInWorker({ settings, baseDir: process.cwd() });
  }
  return loadConfigInWorker({ file: options.config, overrides: commandLineOverrides() });
}

/** The flags given on the command line, which the config file's values give way to. */
function commandLineOverrides(): ConfigOverrides {
  const isGiven = (flag: string): boolean => program.getOptionValueSource(flag) === 'cli';
  return {
    ...(isGiven('host') ? { host: options.host } : {}),
    ...(isGiven('port') ? { port: options.port } : {}),
    ...(isGiven('transport') ? { transport: options.transport } : {}),
    ...(options.redis === undefined ? {} : { redis: options.redis }),
  };
}

/**
 * JSON lines on stderr for machines; colourised, human lines when stderr is a terminal. Secrets
 * (tokens, passwords, authorization headers) are redacted wherever a log line carries them.
 */
async function createLogger(verbosity: number): Promise<Logger> {
  const settings = {
    level: verbosity >= 2 ? 'debug' : verbosity === 1 ? 'info' : 'warn',
    redact: { paths: SECRET_PATHS, censor: '[redacted]' },
  };
  if (!process.stderr.isTTY) return pino(settings, pino.destination(2));
  // Loaded only for a person at a terminal: a service logging JSON never pays for it.
  const { default: pretty } = await import('pino-pretty');
  return pino(
    settings,
    pretty({ destination: 2, colorize: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss' }),
  );
}

function parseWorkers(value: string): number {
  const workers = Number(value);
  if (!/^\d+$/.test(value) || workers < 1 || workers > MAX_WORKERS) {
    throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_WORKERS}.`);
  }
  return workers;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('expected a port number 0-65535.');
  return port;
}

/** Reports `err` as one line (prefixed by the file it concerns, if any) and exits. */
function fail(err: unknown, exitCode: number, file?: string): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`server-launcher: ${file === undefined ? '' : `${file}: `}${message}\n`);
  if (options.verbose >= 2 && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  if (!(err instanceof ProtocolServerError)) launcherLog.debug({ err }, 'unexpected error');
  process.exit(exitCode);
}
