// Which transport and which protocol layer make up each configured transport name.
import type { Logger } from 'pino';

import type { ServerConfig, TransportName } from '../config/schema.js';
import type { InputMode, LayerEvents, SessionLayer } from '../session/layer.js';
import { PlainLayer } from '../session/plain-layer.js';
import { TelnetLayer } from '../session/telnet-layer.js';
import type { Admission, Connection, Listener } from '../transports/connection.js';
import { listenTcp } from '../transports/tcp.js';

/** What a transport needs to start listening for one configured server. */
export interface ListenContext {
  config: ServerConfig;
  tls: { cert: Buffer; key: Buffer } | undefined;
  admission: Admission;
  logger: Logger;
  onConnection(connection: Connection): void;
}

/** What a protocol layer needs to know about the session it serves. */
export interface LayerContext {
  config: ServerConfig;
  preferredMode: InputMode;
  events: LayerEvents;
  logger: Logger;
}

/** A transport name's recipe: how to listen, and which layer to put on each connection. */
export interface Endpoint {
  listen(context: ListenContext): Promise<Listener>;
  createLayer(connection: Connection, context: LayerContext): SessionLayer;
}

const listenTcpFor = (context: ListenContext): Promise<Listener> =>
  listenTcp({
    host: context.config.host,
    port: context.config.port,
    tls: context.tls,
    admission: context.admission,
    onConnection: context.onConnection,
  });

/** The endpoints built so far, by transport name. */
export const ENDPOINTS: Partial<Record<TransportName, Endpoint>> = {
  tcp: {
    listen: listenTcpFor,
    createLayer: (connection) => new PlainLayer(connection.framing === 'message'),
  },
  telnet: {
    listen: listenTcpFor,
    createLayer: (connection, context) =>
      new TelnetLayer(connection, {
        preferredMode: context.preferredMode,
        keepaliveInterval: context.config.keepaliveInterval,
        events: context.events,
        logger: context.logger,
      }),
  },
};
