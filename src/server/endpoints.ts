// Which transport and which protocol layer make up each configured transport name.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import type { Logger } from 'pino';

import { keyPath } from '../config/schema.js';
import type { ServerConfig, TransportName } from '../config/schema.js';
import { ServerStartError } from '../errors.js';
import type { Application } from '../hub/hub.js';
import type { HandlerClass } from '../session/handle.js';
import type { InputMode, LayerEvents, SessionLayer } from '../session/layer.js';
import type { LazyLogger } from '../session/lazy-logger.js';
import { PlainLayer } from '../session/plain-layer.js';
import { TelnetLayer } from '../session/telnet-layer.js';
import type { MudOptions } from '../session/telnet-layer.js';
import { GmcpWebSocketLayer } from '../session/gmcp-websocket-layer.js';
import type { Admission, Connection, Listener, TlsFiles } from '../transports/connection.js';
import { addressRanges } from '../transports/address.js';
import { DIRECT } from '../transports/client-address.js';
import type { ProxyPolicy } from '../transports/client-address.js';
import { TELNET_CONTROL_SUBPROTOCOL, TEXT_CONTROL_SUBPROTOCOL } from '../transports/control-channel.js';
import type { RequestRoute, UpgradeRoute } from '../transports/http.js';
import type { HostKey, SshConnection } from '../transports/ssh.js';
import type { WebSocketConnection } from '../transports/websocket.js';
import { listenTcp } from '../transports/tcp.js';

/** What a transport needs to start listening for one configured server. */
export interface ListenContext {
  config: ServerConfig;
  /** The class served: SSH asks it about logins and sessions without a terminal. */
  handlerClass: HandlerClass;
  /** Further HTTP routes for the port (the monitor, metrics), where the transport speaks HTTP. */
  routes: readonly RequestRoute[];
  upgrades: readonly UpgradeRoute[];
  admission: Admission;
  logger: Logger;
  onConnection(connection: Connection): void;
}

/** What a protocol layer needs to know about the session it serves. */
export interface LayerContext {
  config: ServerConfig;
  preferredMode: InputMode;
  events: LayerEvents;
  /** The session's logger, made when its first line is logged. */
  logger: LazyLogger;
  /** The application, for live values such as MSSP's PLAYERS. */
  app: Application;
  /** When the server started (ms since the epoch), for MSSP's UPTIME. */
  startedAt: number;
}

/** A transport name's recipe: how to listen, which layer to put on each connection, its URL. */
export interface Endpoint {
  listen(context: ListenContext): Promise<Listener>;
  createLayer(connection: Connection, context: LayerContext): SessionLayer;
  /** The URL clients use, e.g. telnet://0.0.0.0:8023 or ws://0.0.0.0:8025/ws. */
  url(config: ServerConfig, address: { host: string; port: number }): string;
  /** Whether the port speaks HTTP, so that pages and the monitor can be served beside sessions. */
  speaksHttp: boolean;
}

/** WebSocket subprotocols (mudstandards.org): telnet in binary frames, plain text, or text with GMCP beside it. */
export const TELNET_SUBPROTOCOL = 'telnet.mudstandards.org';
export const PLAIN_SUBPROTOCOL = 'plain.mudstandards.org';
export const GMCP_SUBPROTOCOL = 'gmcp.mudstandards.org';

const listenTcpFor = async (context: ListenContext): Promise<Listener> =>
  listenTcp({
    host: context.config.host,
    port: context.config.port,
    tls: await loadTls(context.config),
    handshakeTimeoutMs: context.config.handshakeTimeout * 1000,
    maxOutputBuffer: context.config.maxOutputBuffer,
    admission: context.admission,
    proxy: proxyPolicy(context.config),
    logger: context.logger,
    onConnection: context.onConnection,
  });

/** How a server learns its clients' addresses: from its trusted proxies, if it has any. */
export function proxyPolicy(config: ServerConfig): ProxyPolicy {
  if (!config.proxyProtocol && config.trustedProxies.length === 0) return DIRECT;
  return {
    protocol: config.proxyProtocol,
    isTrusted: addressRanges(config.trustedProxies),
    headerTimeoutMs: config.handshakeTimeout * 1000,
  };
}

function listenWebSocketFor(defaultLayer: 'plain' | 'telnet') {
  return async (context: ListenContext): Promise<Listener> => {
    // Loaded with the first WebSocket server: a telnet or tcp launcher never pays for ws and the page.
    const [{ listenWebSocket }, { titleFromWelcome, webClientRoute }] = await Promise.all([
      import('../transports/websocket.js'),
      import('./web-client.js'),
    ]);
    const { config } = context;
    const routes = [...context.routes];
    if (config.webClient) {
      routes.push(
        webClientRoute({
          wsPath: config.wsPath,
          mode: defaultLayer === 'telnet' ? 'telnet' : 'text',
          title: config.webTitle ?? titleFromWelcome(config.welcomeMessage),
        }),
      );
    }
    return listenWebSocket({
      host: config.host,
      port: config.port,
      tls: await loadTls(config),
      handshakeTimeoutMs: config.handshakeTimeout * 1000,
      maxOutputBuffer: config.maxOutputBuffer,
      path: config.wsPath,
      allowOrigins: config.allowOrigins,
      requireOrigin: config.requireOrigin,
      proxy: proxyPolicy(config),
      subprotocols: subprotocolsFor(defaultLayer, config),
      pingInterval: config.pingInterval,
      pingTimeout: config.pingTimeout,
      maxMessageSize: config.maxMessageSize,
      routes,
      upgrades: context.upgrades,
      admission: context.admission,
      logger: context.logger,
      onConnection: context.onConnection,
    });
  };
}

/** The subprotocols a WebSocket server speaks, its own first; GMCP where telnet_options offers it. */
function subprotocolsFor(defaultLayer: 'plain' | 'telnet', config: ServerConfig): string[] {
  // Ours first: a client that offers them asked for the control channel.
  const protocols =
    defaultLayer === 'telnet'
      ? [TELNET_CONTROL_SUBPROTOCOL, TELNET_SUBPROTOCOL, TEXT_CONTROL_SUBPROTOCOL, PLAIN_SUBPROTOCOL]
      : [TEXT_CONTROL_SUBPROTOCOL, PLAIN_SUBPROTOCOL, TELNET_CONTROL_SUBPROTOCOL, TELNET_SUBPROTOCOL];
  if (config.telnetOptions.includes('gmcp')) protocols.splice(2, 0, GMCP_SUBPROTOCOL);
  return protocols;
}

const SUBPROTOCOL_LAYERS: Readonly<Record<string, 'plain' | 'telnet'>> = {
  [PLAIN_SUBPROTOCOL]: 'plain',
  [TEXT_CONTROL_SUBPROTOCOL]: 'plain',
  [TELNET_SUBPROTOCOL]: 'telnet',
  [TELNET_CONTROL_SUBPROTOCOL]: 'telnet',
};

/** The layer the client chose by subprotocol, else the transport's own. */
function webSocketLayer(defaultLayer: 'plain' | 'telnet') {
  return (connection: Connection, context: LayerContext): SessionLayer => {
    if (connection.protocol === GMCP_SUBPROTOCOL) {
      return new GmcpWebSocketLayer(connection as WebSocketConnection, context.events);
    }
    const layer = SUBPROTOCOL_LAYERS[connection.protocol] ?? defaultLayer;
    return layer === 'telnet' ? telnetLayer(connection, context) : lineLayer(connection);
  };
}

function telnetLayer(connection: Connection, context: LayerContext): TelnetLayer {
  return new TelnetLayer(connection, {
    preferredMode: context.preferredMode,
    keepaliveInterval: context.config.keepaliveInterval,
    events: context.events,
    logger: context.logger,
    mud: mudOptions(connection, context),
  });
}

/** The MUD protocols of telnet_options; none unless the config lists them. */
function mudOptions(connection: Connection, context: LayerContext): MudOptions | undefined {
  const { config, app, startedAt } = context;
  // A short list, read for each connection: no Set made for it.
  const names = config.telnetOptions;
  if (names.length === 0) return undefined;
  // Compressing before encrypting lets an observer learn secrets from lengths (CRIME, BREACH).
  const mayCompress = !connection.secure || config.mccpOverTls;
  return {
    gmcp: names.includes('gmcp'),
    msdp: names.includes('msdp'),
    mccp2: mayCompress && names.includes('mccp2'),
    mccp3: mayCompress && names.includes('mccp3'),
    mssp: names.includes('mssp')
      ? async () => ({
          NAME: config.name,
          ...config.mssp,
          PLAYERS: (await app.list()).length,
          UPTIME: Math.floor(startedAt / 1000),
        })
      : undefined,
  };
}

/** Plain lines that the client edits and echoes itself. */
function lineLayer(connection: Connection): PlainLayer {
  return new PlainLayer({ messageFraming: connection.framing === 'message', serverEchoes: false });
}

/** Where a server without ssh_host_key keeps the key it makes on first start, relative to its config file. */
const DEFAULT_SSH_HOST_KEY = '.chuk/ssh_host_ed25519_key';

async function listenSshFor(context: ListenContext): Promise<Listener> {
  // Loaded with the first SSH server; ssh2 itself only with its first client.
  const { listenSsh, readAuthorizedKeys } = await import('../transports/ssh.js');
  const { config, handlerClass, logger } = context;
  const hostKey = await loadSshHostKey(config);
  logger.info(
    { file: sshHostKeyFile(config) },
    `${hostKey.isNew ? 'made a new SSH host key' : 'SSH host key'}: ${hostKey.fingerprint}`,
  );
  const authorizedKeys =
    config.sshAuthorizedKeys === undefined
      ? []
      : await atKey(config, 'ssh_authorized_keys', () =>
          readAuthorizedKeys(resolve(config.baseDir, config.sshAuthorizedKeys!)),
        );
  return listenSsh({
    host: config.host,
    port: config.port,
    hostKey: hostKey.text,
    auth: config.sshAuth,
    authorizedKeys,
    authenticate: (attempt) => handlerClass.authenticate?.(attempt) ?? false,
    acceptsNoPty: handlerClass.acceptsNoPty === true,
    handshakeTimeoutMs: config.handshakeTimeout * 1000,
    keepaliveIntervalMs: config.sshKeepaliveInterval * 1000,
    maxOutputBuffer: config.maxOutputBuffer,
    admission: context.admission,
    proxy: proxyPolicy(config),
    logger,
    onConnection: context.onConnection,
  });
}

/** A terminal gets character mode, the server echoing and editing; `ssh host command` gets lines. */
function sshLayer(connection: Connection): PlainLayer {
  return new PlainLayer({ messageFraming: false, serverEchoes: (connection as SshConnection).hasPty });
}

/** The server's SSH host key: its ssh_host_key, or the one made on first start at DEFAULT_SSH_HOST_KEY. */
export async function loadSshHostKey(config: ServerConfig): Promise<HostKey> {
  const { loadHostKey } = await import('../transports/ssh.js');
  return atKey(config, 'ssh_host_key', () => loadHostKey(sshHostKeyFile(config), config.sshHostKey === undefined));
}

function sshHostKeyFile(config: ServerConfig): string {
  return resolve(config.baseDir, config.sshHostKey ?? DEFAULT_SSH_HOST_KEY);
}

/** Runs `load`, naming `key` in the error it throws. */
async function atKey<T>(config: ServerConfig, key: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    throw new ServerStartError(`${keyPath(config, key)}: ${(err as Error).message}`, { cause: err });
  }
}

function socketUrl(scheme: string, secureScheme: string) {
  return (config: ServerConfig, address: { host: string; port: number }): string =>
    `${config.useSsl ? secureScheme : scheme}://${hostForUrl(address.host)}:${address.port}`;
}

function webSocketUrl(config: ServerConfig, address: { host: string; port: number }): string {
  return `${config.useSsl ? 'wss' : 'ws'}://${hostForUrl(address.host)}:${address.port}${config.wsPath}`;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The endpoint of every transport name. */
export const ENDPOINTS: Record<TransportName, Endpoint> = {
  tcp: { listen: listenTcpFor, createLayer: lineLayer, url: socketUrl('tcp', 'tls'), speaksHttp: false },
  telnet: { listen: listenTcpFor, createLayer: telnetLayer, url: socketUrl('telnet', 'telnets'), speaksHttp: false },
  websocket: {
    listen: listenWebSocketFor('plain'),
    createLayer: webSocketLayer('plain'),
    url: webSocketUrl,
    speaksHttp: true,
  },
  ws_telnet: {
    listen: listenWebSocketFor('telnet'),
    createLayer: webSocketLayer('telnet'),
    url: webSocketUrl,
    speaksHttp: true,
  },
  ssh: {
    listen: listenSshFor,
    createLayer: sshLayer,
    url: (_config, address) => `ssh://${hostForUrl(address.host)}:${address.port}`,
    speaksHttp: false,
  },
};

/** Reads the server's certificate and key when it uses TLS; a clear error names the key. */
export async function loadTls(config: ServerConfig): Promise<TlsFiles | undefined> {
  if (!config.useSsl) return undefined;
  const read = async (key: 'ssl_cert' | 'ssl_key', file: string | undefined): Promise<Buffer> => {
    const at = keyPath(config, key);
    if (file === undefined) throw new ServerStartError(`${at}: required when use_ssl is true`);
    try {
      return await readFile(resolve(config.baseDir, file));
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new ServerStartError(`${at}: cannot read ${file}: ${reason}`);
    }
  };
  return { cert: await read('ssl_cert', config.sslCert), key: await read('ssl_key', config.sslKey) };
}
