// Test support: an IPC channel in memory, both ends in this process, for the cluster bus without forking.
import { EventEmitter } from 'node:events';

import type { IpcChannel } from '../../src/hub/ipc-bus.js';

/** Both ends of an IPC channel: messages are copied and arrive in order on a later turn, as over a pipe. */
export function channelPair(): { worker: IpcChannel; primary: IpcChannel; disconnect(): void } {
  const workerSide = new EventEmitter();
  const primarySide = new EventEmitter();
  let isConnected = true;
  const end = (to: EventEmitter): IpcChannel => ({
    send(message, callback) {
      if (!isConnected) {
        const err = Object.assign(new Error('Channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' });
        setImmediate(() => callback(err));
        return false;
      }
      const copy = JSON.parse(JSON.stringify(message)) as unknown;
      setImmediate(() => {
        if (isConnected) to.emit('message', copy);
        callback(null);
      });
      return true;
    },
    on: (event: string, listener: (message: unknown) => void) =>
      (to === primarySide ? workerSide : primarySide).on(event, listener),
    off: (event: string, listener: (message: unknown) => void) =>
      (to === primarySide ? workerSide : primarySide).off(event, listener),
  });
  return {
    worker: end(primarySide),
    primary: end(workerSide),
    disconnect() {
      isConnected = false;
      workerSide.emit('disconnect');
      primarySide.emit('disconnect');
    },
  };
}
