// The bus between the instances of one application: all a cross-instance hub needs of a transport.
//
// Two implementations: src/hub/redis-bus.ts (instances on any machines, through Redis Pub/Sub) and
// the cluster IPC bus (workers of one launcher, through the primary, when no Redis is configured).
// Everything the application shares across instances — broadcast, the session registry and its
// liveness, per-IP counts, remote watching — is built on this interface once, in BusHub
// (src/hub/bus-hub.ts): `new BusHub({ bus, logger })`. A bus only moves opaque text.

/** Whether the bus can carry messages now. */
export type BusState = 'up' | 'down';

/** What a bus delivers to, given to `start`. Neither function may be called after `stop` resolves. */
export interface BusReceiver {
  /**
   * A payload another instance sent, to every instance or to this one by name, exactly as it was
   * sent. From any one sender, payloads arrive in the order that sender sent them, whether sent
   * to all or to this instance alone (one ordered stream per sender and receiver). Called
   * synchronously from the bus's own I/O callbacks; it never throws.
   */
  message(payload: string): void;
  /**
   * The bus became able to carry messages ('up': the first connection, and every reconnection
   * after an outage) or stopped being able to ('down'). Called only on a change, 'up' first
   * unless the first connection fails. Payloads sent or due while down are lost, not replayed:
   * on 'up' the hub resynchronises with the other instances itself.
   */
  state(state: BusState): void;
}

/**
 * A message bus between named instances. Delivery is at most once and best effort: nothing is
 * queued while the bus is down, so nothing piles up during an outage.
 */
export interface HubBus {
  /** Whether payloads sent now can be delivered (the last state reported). */
  readonly isUp: boolean;
  /**
   * Connects as `instance` (unique among the instances, the hub's `instance`) and delivers to
   * `receiver` from then on. Resolves once the first connection attempt has settled, whether up
   * or down: an unreachable service is reported as state 'down' and retried in the background
   * until `stop`, never by rejecting. Rejects only when the bus cannot work at all (a bad URL).
   * Called once.
   */
  start(instance: string, receiver: BusReceiver): Promise<void>;
  /**
   * Sends `payload` to every other instance (`to` undefined) or to the instance named `to`,
   * never back to the sender itself. Returns false, having sent nothing, when the bus is down;
   * a payload to an instance that does not exist is silently dropped (true). Never throws, never
   * waits: a payload accepted while the connection breaks may be lost.
   */
  send(payload: string, to?: string): boolean;
  /** Disconnects and stops retrying; idempotent. Payloads sent after it return false. */
  stop(): Promise<void>;
}
