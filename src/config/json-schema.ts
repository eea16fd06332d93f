// The config as a JSON Schema, for editors (YAML language servers complete and check keys).
import { z } from 'zod';

import { configInputSchema } from './schema.js';

/** What each key means, shown by editors on hover; a test keeps it in step with the schema. */
export const KEY_DESCRIPTIONS: Readonly<Record<string, string>> = {
  servers: 'Several servers of one application, by name.',
  host: 'Address to bind.',
  port: 'Port to listen on (0 = any free port); default 8023, 8022 for ssh.',
  transport: 'telnet, tcp, websocket, ws_telnet or ssh.',
  handler_class: '<module>:<ExportName>; a .ts or .js path relative to the config file, or a package.',
  max_connections: 'Sessions at once; one more is told the server is at capacity.',
  max_connections_per_ip: 'Sessions at once from one address, across the application (0 = no limit).',
  connection_timeout: 'Seconds without input before a session is closed (0 = never).',
  max_session_time: 'Seconds a session may last however busy it is (0 = no limit).',
  resume_grace:
    'Seconds a session whose connection dropped without a goodbye waits for its client to resume it (0 = off).',
  welcome_message: 'First line a client sees.',
  ws_path: 'WebSocket upgrade path (default /ws, /ws_telnet for ws_telnet).',
  allow_origins: 'Browser origins allowed to connect; "*" for all.',
  require_origin: 'Refuse WebSocket handshakes without an Origin header.',
  use_ssl: 'TLS: wss://, or telnet/tcp over TLS.',
  ssl_cert: 'PEM certificate file, relative to the config file; "" means not set.',
  ssl_key: 'PEM private key file, relative to the config file; "" means not set.',
  ping_interval: 'Seconds between WebSocket pings (0 = none).',
  ping_timeout: 'Seconds to wait for the pong before dropping the peer.',
  enable_monitoring: "Serve the session monitor and its dashboard on this WebSocket server's port.",
  monitor_path: 'Path of the monitor and its dashboard.',
  monitor_token: 'Token(s) that open the monitor and metrics (16+ characters); required off loopback.',
  monitor_admin_token: 'Token(s) that also allow operator actions.',
  metrics_path: 'Path of Prometheus metrics.',
  max_output_buffer: 'Unread output in bytes past which a client that stopped reading is closed.',
  handshake_timeout:
    'Seconds a client has for the TLS handshake, a WebSocket upgrade request, or the SSH handshake and login (default 5, 60 for ssh).',
  max_connection_rate_per_ip: 'New connections per minute from one address (0 = no limit).',
  allow_ips: 'Addresses or CIDR ranges that may connect; empty = everyone not denied.',
  deny_ips: 'Addresses or CIDR ranges that may not connect.',
  ban_after: 'Limit hits from one address within ban_seconds that ban it (0 = never ban).',
  ban_seconds: 'How long a ban lasts, and the window ban_after counts in.',
  max_line_length: 'Longest input line in characters; longer input is cut.',
  max_message_size: 'Largest inbound WebSocket message in bytes.',
  web_client: 'Serve the browser terminal at / on a WebSocket port.',
  web_title: "Title of the browser page; default: the welcome message's first words, else the page's host name.",
  keepalive_interval: 'Seconds between telnet NOPs to keep NAT and proxies open (0 = none).',
  proxy_protocol: 'Every connection starts with a PROXY protocol header (v1 or v2) from one of trusted_proxies.',
  trusted_proxies: 'Proxies (IP addresses or CIDR ranges) whose PROXY header or X-Forwarded-For names the real client.',
  ssh_host_key:
    'SSH private host key file, relative to the config file; by default one made on first start in .chuk/ beside it.',
  ssh_auth: 'How SSH clients log in: none, password (asks the handler), publickey, or a list.',
  ssh_authorized_keys: 'authorized_keys file of the keys that may log in with ssh_auth publickey.',
  ssh_keepalive_interval: 'Seconds between SSH keepalive requests; a client that misses 3 is dropped (0 = none).',
  telnet_options:
    'MUD protocols offered to telnet clients: gmcp, msdp, mssp, mccp2, mccp3 (telnet and ws_telnet only).',
  mssp: 'MSSP variables for MUD crawlers (NAME and any others); PLAYERS and UPTIME are added live.',
  mccp_over_tls: 'Offer MCCP compression on TLS connections too (off: compressing before encrypting leaks).',
  monitor_port: 'A port of its own for the monitor, metrics and health.',
  monitor_host: 'Address the monitor port binds.',
  monitor_notice: 'Tell users when someone starts watching them.',
  record_sessions: 'Folder for one asciicast recording per session, relative to the config file.',
  record_input: 'Record the lines users type too (never hidden ones).',
  record_format: 'asciicast version: v2 or v3.',
  record_max_bytes: 'Largest recording file in bytes.',
  record_keep: 'Recordings kept; the oldest go first.',
  hub: 'Share the application with other instances (processes, machines) through Redis; see docs/scaling.md.',
  redis: 'redis:// or rediss:// URL of the Redis that the instances share.',
  channel_prefix: 'Starts every Pub/Sub channel name: applications sharing one Redis keep apart by it.',
  heartbeat_interval: 'Seconds between the heartbeats an instance sends the others.',
  instance_timeout: 'Seconds without a word from an instance before its sessions leave the registry.',
  shared_ip_limits: 'max_connections_per_ip counts the sessions of every instance (false: of this one).',
  workers: 'Processes that serve every port together as one application (node:cluster); 1 = one process.',
};

/** The JSON Schema of a config file, every key described. */
export function configJsonSchema(): Record<string, unknown> {
  const input = configInputSchema();
  const schema = z.toJSONSchema(input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  describeProperties(schema);
  return {
    ...schema,
    title: 'chuk-protocol-server config',
    description:
      'One server at the top level, or several under servers:, with the keys of the whole application beside them.',
  };
}

/** Adds each known key's description wherever the key appears in the schema. */
function describeProperties(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) describeProperties(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  const properties = record.properties as Record<string, Record<string, unknown>> | undefined;
  if (properties !== undefined) {
    for (const [key, property] of Object.entries(properties)) {
      const description = KEY_DESCRIPTIONS[key];
      if (description !== undefined) property.description = description;
    }
  }
  for (const value of Object.values(record)) describeProperties(value);
}
