// A HubBus over Redis Pub/Sub: one channel to every instance and one per instance, from any machine.
import type { Logger } from 'pino';
import type { RedisClientType } from 'redis';

import type { BusReceiver, BusState, HubBus } from './bus.js';

/** Options of a RedisBus. */
export interface RedisBusOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** Starts every channel name: applications sharing one Redis keep apart by it (Pub/Sub ignores the database number). */
  channelPrefix: string;
  logger?: Logger;
  /** How often an idle connection is checked, so that a Redis that stops answering is noticed. */
  pingIntervalMs?: number;
}

/** Longest wait between reconnection attempts. */
const MAX_RECONNECT_DELAY_MS = 2000;
/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 2000;
/** How long stopping waits for what was published last to be sent. */
const STOP_WAIT_MS = 1000;

/**
 * Plain (not sharded) Pub/Sub: every payload from one instance leaves on one connection, so
 * Redis hands them to each subscriber in the order sent, whichever of the two channels they use.
 * A payload is the sender's name, a newline and the hub's text, so that an instance skips its own.
 */
export class RedisBus implements HubBus {
  #options: RedisBusOptions;
  #publisher: RedisClientType | undefined;
  #subscriber: RedisClientType | undefined;
  #instance = '';
  #receiver: BusReceiver | undefined;
  /** The last state reported; undefined before the first. */
  #state: BusState | undefined;
  #isSubscribed = false;
  #isStopped = false;

  constructor(options: RedisBusOptions) {
    this.#options = options;
  }

  get isUp(): boolean {
    return this.#state === 'up';
  }

  async start(instance: string, receiver: BusReceiver): Promise<void> {
    this.#instance = instance;
    this.#receiver = receiver;
    // Loaded only here: a launcher without a Redis hub never pays for the client.
    const { createClient } = await import('redis');
    const logger = this.#options.logger;
    const publisher = createClient({
      url: this.#options.url,
      // Nothing waits for Redis: while it is away, a command fails at once instead of queueing without bound.
      disableOfflineQueue: true,
      pingInterval: this.#options.pingIntervalMs ?? 1000,
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
      },
    }) as RedisClientType;
    const subscriber = publisher.duplicate();
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    let lastError = '';
    for (const client of [publisher, subscriber]) {
      client.on('error', (err: Error) => {
        // Once per kind of failure, not once per reconnection attempt.
        if (err.message !== lastError) logger?.warn({ err }, 'hub: Redis connection error');
        lastError = err.message;
        this.#update();
      });
      client.on('ready', () => {
        lastError = '';
        this.#update();
      });
      client.on('end', () => this.#update());
      client.on('reconnecting', () => this.#update());
    }
    const prefix = this.#options.channelPrefix;
    const listener = (message: string): void => this.#deliver(message);
    // Resolves at the first connection, whenever that is; the bus reports 'down' meanwhile.
    const connected = (async () => {
      await Promise.all([publisher.connect(), subscriber.connect()]);
      await subscriber.subscribe([`${prefix}:all`, `${prefix}:to:${instance}`], listener);
      this.#isSubscribed = true;
      this.#update();
    })();
    connected.catch((err: unknown) => {
      if (!this.#isStopped) logger?.error({ err }, 'hub: Redis connection given up');
    });
    const settled = await Promise.race([connected.then(() => true), delay(CONNECT_TIMEOUT_MS).then(() => false)]);
    if (!settled) this.#report(false);
  }

  send(payload: string, to?: string): boolean {
    const publisher = this.#publisher;
    if (!this.isUp || publisher === undefined) return false;
    const channel = `${this.#options.channelPrefix}:${to === undefined ? 'all' : `to:${to}`}`;
    publisher.publish(channel, `${this.#instance}\n${payload}`).catch((err: unknown) => {
      this.#options.logger?.debug({ err }, 'hub: a message to Redis was lost');
    });
    return true;
  }

  async stop(): Promise<void> {
    if (this.#isStopped) return;
    const wasUp = this.isUp;
    this.#isStopped = true;
    this.#state = 'down';
    this.#receiver = undefined;
    const clients = [this.#publisher, this.#subscriber].filter((client) => client !== undefined);
    // What was published last (the hub's goodbye) goes out first, unless Redis is gone or slow.
    if (wasUp) await Promise.race([Promise.allSettled(clients.map((client) => client.close())), delay(STOP_WAIT_MS)]);
    for (const client of clients) if (client.isOpen) client.destroy();
  }

  #deliver(message: string): void {
    const newline = message.indexOf('\n');
    if (newline === -1 || message.slice(0, newline) === this.#instance) return;
    this.#receiver?.message(message.slice(newline + 1));
  }

  /** Up when both connections are ready and subscribed (a reconnection subscribes again before it is ready). */
  #update(): void {
    const isUp = this.#isSubscribed && this.#publisher?.isReady === true && this.#subscriber?.isReady === true;
    // Until the first connection is made or given up on, a client not ready yet is no outage.
    if (isUp || this.#state !== undefined) this.#report(isUp);
  }

  #report(isUp: boolean): void {
    const state: BusState = isUp ? 'up' : 'down';
    if (this.#isStopped || state === this.#state) return;
    this.#state = state;
    this.#receiver?.state(state);
  }
}

/** Resolves after `ms`, without keeping the process alive for it. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
