// chuk-protocol-server/testing: serve a handler on free ports and talk to it as users of every transport would.
export { startTestServer, startTestConfig } from './test-server.js';
export type { StartTestConfigOptions, StartTestServerOptions, TestLogOptions, TestServer } from './test-server.js';
export { connectClient } from './connect-client.js';
export type { ConnectOptions, ExpectOptions, TestClient } from './test-client.js';
export type { TelnetStyle } from './telnet-peer.js';
export type { CloseInfo } from './transcript.js';
export { ExpectError } from './expect-error.js';
export type { ExpectFailure } from './expect-error.js';
