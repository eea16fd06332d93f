// The cluster IPC bus: workers of one launcher reach each other through the primary, which relays.
import type { BusReceiver, HubBus } from './bus.js';

/**
 * One end of a process's IPC channel: `process` in a worker, a `cluster.Worker` in the primary.
 * A send on a closed channel calls back with ERR_IPC_CHANNEL_CLOSED and returns false.
 */
export interface IpcChannel {
  send(message: unknown, callback: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'disconnect', listener: () => void): unknown;
}

/** What crosses the channel; `chuk` tells these apart from cluster's and prom-client's own messages. */
type BusMessage =
  | { chuk: 'bus-join'; instance: string }
  | { chuk: 'bus-leave' }
  /** Worker to primary: `to` undefined = every other worker. Primary to worker: `to` absent. */
  | { chuk: 'bus'; payload: string; to?: string };

/** A worker's bus: every payload goes to the primary, which relays it (BusRelay). */
export class IpcBus implements HubBus {
  #channel: IpcChannel;
  #receiver: BusReceiver | undefined;
  #isUp = false;
  #isStopped = false;
  #onMessage = (message: unknown): void => {
    if (isBusMessage(message) && message.chuk === 'bus') this.#receiver?.message(message.payload);
  };
  #onDisconnect = (): void => this.#setState(false);

  constructor(channel: IpcChannel) {
    this.#channel = channel;
  }

  get isUp(): boolean {
    return this.#isUp;
  }

  start(instance: string, receiver: BusReceiver): Promise<void> {
    this.#receiver = receiver;
    this.#channel.on('message', this.#onMessage);
    this.#channel.on('disconnect', this.#onDisconnect);
    // Delivered in order: whatever the worker sends after this reaches the relay after its name.
    this.#setState(this.#post({ chuk: 'bus-join', instance }));
    return Promise.resolve();
  }

  send(payload: string, to?: string): boolean {
    if (!this.#isUp) return false;
    return this.#post(to === undefined ? { chuk: 'bus', payload } : { chuk: 'bus', payload, to });
  }

  stop(): Promise<void> {
    if (this.#isStopped) return Promise.resolve();
    this.#isStopped = true;
    if (this.#isUp) this.#post({ chuk: 'bus-leave' });
    this.#isUp = false;
    this.#channel.off('message', this.#onMessage);
    this.#channel.off('disconnect', this.#onDisconnect);
    this.#receiver = undefined;
    return Promise.resolve();
  }

  #post(message: BusMessage): boolean {
    return this.#channel.send(message, ignoreClosed);
  }

  #setState(isUp: boolean): void {
    if (isUp === this.#isUp || this.#isStopped) return;
    this.#isUp = isUp;
    this.#receiver?.state(isUp ? 'up' : 'down');
  }
}

/**
 * The primary's side: relays each worker's payloads to every other worker, or to the one it
 * names. It reads no payload, so the primary never loads the hub or handlers.
 */
export class BusRelay {
  /** Workers that joined, by instance name. */
  #members = new Map<string, IpcChannel>();

  /** Relays for `channel` from now on; returns the function that lets go of it (call it when it exits). */
  attach(channel: IpcChannel): () => void {
    let instance: string | undefined;
    const leave = (): void => {
      if (instance !== undefined && this.#members.get(instance) === channel) this.#members.delete(instance);
      instance = undefined;
    };
    const onMessage = (message: unknown): void => {
      if (!isBusMessage(message)) return;
      if (message.chuk === 'bus-join') {
        leave();
        instance = message.instance;
        this.#members.set(instance, channel);
      } else if (message.chuk === 'bus-leave') {
        leave();
      } else if (instance !== undefined) {
        this.#relay(channel, message.payload, message.to);
      }
    };
    channel.on('message', onMessage);
    channel.on('disconnect', leave);
    return () => {
      leave();
      channel.off('message', onMessage);
      channel.off('disconnect', leave);
    };
  }

  #relay(from: IpcChannel, payload: string, to: string | undefined): void {
    const message: BusMessage = { chuk: 'bus', payload };
    if (to !== undefined) {
      const target = this.#members.get(to);
      if (target !== undefined && target !== from) target.send(message, ignoreClosed);
      return;
    }
    for (const member of this.#members.values()) if (member !== from) member.send(message, ignoreClosed);
  }
}

/**
 * A payload to a process whose channel just closed is lost, as the bus allows (at most once);
 * given a callback, Node reports that here instead of as an 'error' event nobody handles.
 */
function ignoreClosed(): void {}

function isBusMessage(message: unknown): message is BusMessage {
  if (message === null || typeof message !== 'object') return false;
  const tag = (message as { chuk?: unknown }).chuk;
  return tag === 'bus' || tag === 'bus-join' || tag === 'bus-leave';
}
