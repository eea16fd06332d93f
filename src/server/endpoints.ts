// Which transport and which protocol layer make up each configured transport name.
import type { Logger } from 'pino';

import type { ServerConfig, TransportName } from '../config/schema.js';
import type { InputMode, LayerEvents, SessionLayer } from '../session/layer.js';
import { PlainLayer } from '../session/plain-layer.js';
import { TelnetLayer } from '../session/telnet-layer.js';
import type { Admission, Connection, Listener } from '../transports/connection.js';
import { listenTcp } from '../transports/tcp.js';
import { listenWebSocket } from '../transports/websocket.js';
import { webClientRoute } from './web-client.js';

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

/** WebSocket subprotocols (mudstandards.org): telnet in binary frames, or plain text. */
export const TELNET_SUBPROTOCOL = 'telnet.mudstandards.org';
export const PLAIN_SUBPROTOCOL = 'plain.mudstandards.org';

function listenWebSocketFor(defaultLayer: 'plain' | 'telnet') {
  return (context: ListenContext): Promise<Listener> => {
    const { config } = context;
    const routes = config.webClient
      ? [
          webClientRoute({
            wsPath: config.wsPath,
            mode: defaultLayer === 'telnet' ? 'telnet' : 'text',
            title: config.name,
          }),
        ]
      : [];
    return listenWebSocket({
      host: config.host,
      port: config.port,
      tls: context.tls,
      path: config.wsPath,
      allowOrigins: config.allowOrigins,
      requireOrigin: config.requireOrigin,
      subprotocols:
        defaultLayer === 'telnet' ? [TELNET_SUBPROTOCOL, PLAIN_SUBPROTOCOL] : [PLAIN_SUBPROTOCOL, TELNET_SUBPROTOCOL],
      pingInterval: config.pingInterval,
      pingTimeout: config.pingTimeout,
      maxMessageSize: config.maxMessageSize,
      routes,
      admission: context.admission,
      onConnection: context.onConnection,
    });
  };
}

/** The layer the client chose by subprotocol, else the transport's own. */
function webSocketLayer(defaultLayer: 'plain' | 'telnet') {
  return (connection: Connection, context: LayerContext): SessionLayer => {
    const { protocol } = connection;
    const layer = protocol === TELNET_SUBPROTOCOL ? 'telnet' : protocol === PLAIN_SUBPROTOCOL ? 'plain' : defaultLayer;
    return layer === 'telnet' ? telnetLayer(connection, context) : new PlainLayer(true);
  };
}

function telnetLayer(connection: Connection, context: LayerContext): TelnetLayer {
  return new TelnetLayer(connection, {
    preferredMode: context.preferredMode,
    keepaliveInterval: context.config.keepaliveInterval,
    events: context.events,
    logger: context.logger,
  });
}

/** The endpoints built so far, by transport name. */
export const ENDPOINTS: Partial<Record<TransportName, Endpoint>> = {
  tcp: {
    listen: listenTcpFor,
    createLayer: () => new PlainLayer(false),
  },
  telnet: { listen: listenTcpFor, createLayer: telnetLayer },
  websocket: { listen: listenWebSocketFor('plain'), createLayer: webSocketLayer('plain') },
  ws_telnet: { listen: listenWebSocketFor('telnet'), createLayer: webSocketLayer('telnet') },
};
