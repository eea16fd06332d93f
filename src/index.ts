// The public API of chuk-protocol-server.
export * from './errors.js';
export { BaseHandler, isHandlerClass } from './handlers/base-handler.js';
export { LineHandler } from './handlers/line-handler.js';
export { CharacterHandler } from './handlers/character-handler.js';
export { TelnetHandler } from './handlers/telnet-handler.js';
export type {
  AuthenticationAttempt,
  HandlerClass,
  ReadLineOptions,
  ServerContext,
  SessionHandle,
} from './session/handle.js';
export type { InputMode, TerminalInfo } from './session/layer.js';
export type { InputToken, KeyName } from './session/key-reader.js';
export type { GmcpChannel, MsdpChannel } from './session/out-of-band.js';
export type { GmcpClientInfo } from './telnet/gmcp.js';
export type { MsdpCommand, MsdpValue, MsdpVariables } from './telnet/msdp.js';
export type { MsspVariables } from './telnet/mssp.js';
export { InProcessHub } from './hub/hub.js';
export type {
  Application,
  HubMember,
  HubSharing,
  RemoteScreen,
  RemoteWatch,
  ScreenSource,
  SessionFilter,
  SessionHub,
  WatchedEvent,
} from './hub/hub.js';
export { BusHub } from './hub/bus-hub.js';
export type { BusHubOptions } from './hub/bus-hub.js';
export type { BusReceiver, BusState, HubBus } from './hub/bus.js';
export { RedisBus } from './hub/redis-bus.js';
export type { RedisBusOptions } from './hub/redis-bus.js';
export { SessionEvents } from './hub/events.js';
export type {
  RefusalReason,
  SessionEndReason,
  SessionEventListener,
  SessionEventMap,
  SessionEventType,
  SessionInfo,
  TerminalSummary,
} from './hub/events.js';
export { ProtocolServer, CAPACITY_MESSAGE, SHUTDOWN_MESSAGE } from './server/protocol-server.js';
export type { ProtocolServerOptions, ServerInfo } from './server/protocol-server.js';
export { launchServers } from './server/launcher.js';
export type { Launch, LaunchOptions } from './server/launcher.js';
export { serve } from './server/serve.js';
export { loadHandlerClass } from './server/handler-loader.js';
export { loadConfig } from './config/load.js';
export { parseConfig, TRANSPORTS } from './config/schema.js';
export type {
  Config,
  ConfigSettings,
  HubConfig,
  ParseConfigOptions,
  ServerConfig,
  ServerSettings,
  SshAuthMethod,
  TelnetOptionName,
  TransportName,
} from './config/schema.js';
export { readConfigFile, parseConfigDocument } from './config/load.js';
export type { ConfigDocument } from './config/load.js';
