// Command-line flags (--host, --port, --transport, --redis) written into a config document before it is validated.
import { ConfigError } from '../errors.js';

/** The flags given on the command line; a flag not given is absent. */
export interface ConfigOverrides {
  host?: string;
  port?: number;
  transport?: string;
  redis?: string;
}

/**
 * `raw` with `redis` written into its hub, and host, port and transport into each server. Written
 * before validation, so that defaults follow them (ws_path of --transport).
 */
export function withOverrides(raw: unknown, overrides: ConfigOverrides, file: string): unknown {
  const { redis, ...serverFlags } = overrides;
  if (redis !== undefined && isMapping(raw)) {
    return withServerFlags({ ...raw, hub: { ...(isMapping(raw.hub) ? raw.hub : {}), redis } }, serverFlags, file);
  }
  return withServerFlags(raw, serverFlags, file);
}

function withServerFlags(raw: unknown, flags: Record<string, unknown>, file: string): unknown {
  if (Object.keys(flags).length === 0 || !isMapping(raw)) return raw;
  if (!('servers' in raw)) return { ...raw, ...flags };
  // A servers: map that is not a mapping is left for parseConfig to report.
  if (!isMapping(raw.servers)) return raw;
  const sections = Object.entries(raw.servers);
  for (const flag of ['port', 'transport'] as const) {
    if (flag in flags && sections.length > 1) {
      throw new ConfigError(`--${flag} applies to a config with one server; ${file} has ${sections.length}`);
    }
  }
  const servers = sections.map(([name, section]) => [name, isMapping(section) ? { ...section, ...flags } : section]);
  return { ...raw, servers: Object.fromEntries(servers) };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
