// AddressGuard: the application's limits on client addresses (allow/deny lists, connection rate, bans).
import { performance } from 'node:perf_hooks';

import type { Logger } from 'pino';

import { isAddressRange, keyPath } from '../config/schema.js';
import type { ServerConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { addressRanges, canonicalAddress } from '../transports/address.js';
import type { Refusal } from '../transports/connection.js';

/** One server's view of the guard: its own settings, the application's shared state. */
export interface AddressPolicy {
  /** Undefined to let `address` on, or why not (denied, banned, over its rate). */
  screen(address: string): Refusal | undefined;
  /** Counts a refusal that was the client's doing (over max_connections_per_ip) towards a ban. */
  strike(address: string): void;
}

/** Options of an AddressGuard. */
export interface AddressGuardOptions {
  /** Where bans are reported. */
  logger?: Logger;
  /** A monotonic clock in milliseconds; tests pass a fake one. */
  now?: () => number;
  /** Addresses the guard keeps state for at most; past it the least recently seen is forgotten. */
  maxTracked?: number;
}

/** What the guard remembers of one address; all times on the guard's clock. */
interface Tracked {
  /**
   * When the address's connections are paid off. Each connection pushes it a minute / rate
   * further; one that would push it more than a minute past now is over the rate. This is a
   * token bucket of `rate` tokens refilled continuously (GCRA), kept in one number.
   */
  rateClearAt: number;
  /** Refusals counted towards a ban in the window that ends at `strikesUntil`. */
  strikes: number;
  strikesUntil: number;
  /** 0 when not banned. */
  bannedUntil: number;
}

/** A server's settings, made ready to check an address with as little work as possible. */
interface Rules {
  name: string;
  deny: ((address: string) => boolean) | undefined;
  allow: ((address: string) => boolean) | undefined;
  /** Milliseconds of the rate window one connection costs; 0 = no rate limit. */
  costMs: number;
  banAfter: number;
  /** 0 = never ban. */
  banMs: number;
}

const RATE_WINDOW_MS = 60_000;
/** A minute / rate, added up `rate` times, can land a hair past a minute in floating point. */
const RATE_SLACK_MS = 1e-6;
const DEFAULT_MAX_TRACKED = 10_000;
/** How often addresses whose every limit has run out are forgotten. */
const SWEEP_INTERVAL_MS = 60_000;

const DENIED = 'Your address may not connect.';
const MESSAGES = {
  rate: (wait: string) => `Too many new connections from your address. Please try again in ${wait}.`,
  banned: (wait: string) => `Your address is blocked for a while. Please try again in ${wait}.`,
};

/**
 * The abuse limits of one application: every server of a launch consults the same guard, each
 * with its own settings, so that a second transport is no way around a limit.
 *
 * Refusals for being over the connection rate and over max_connections_per_ip count towards a
 * ban: `ban_after` of them within `ban_seconds` of the first ban the address for `ban_seconds`.
 * Refusals at capacity or while shutting down are not the client's doing and do not count; a
 * banned or denied address is already refused, and its retries do not extend anything.
 */
export class AddressGuard {
  #logger: Logger | undefined;
  #now: () => number;
  #maxTracked: number;
  /** In order of last use: the first entry is the one to forget when full. */
  #tracked = new Map<string, Tracked>();
  #sweeper: NodeJS.Timeout | undefined;
  #isStopped = false;

  constructor(options: AddressGuardOptions = {}) {
    this.#logger = options.logger;
    this.#now = options.now ?? (() => performance.now());
    this.#maxTracked = options.maxTracked ?? DEFAULT_MAX_TRACKED;
  }

  /** How many addresses the guard holds state for (never more than maxTracked). */
  get trackedAddresses(): number {
    return this.#tracked.size;
  }

  /** The guard as one server applies it; throws ConfigError for an address list it cannot read. */
  policy(config: ServerConfig): AddressPolicy {
    const rules = compile(config);
    const isIdle = rules.deny === undefined && rules.allow === undefined && rules.costMs === 0 && rules.banMs === 0;
    // A server without limits does no work at all per connection.
    if (isIdle) return { screen: () => undefined, strike: () => undefined };
    return {
      screen: (address) => this.#screen(canonicalAddress(address), rules),
      strike: (address) => {
        if (rules.banMs === 0) return;
        const key = canonicalAddress(address);
        this.#strike(key, this.#use(key), rules, this.#now());
      },
    };
  }

  /** Forgets every address and stops the sweep timer; idempotent. */
  stop(): void {
    this.#isStopped = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#tracked.clear();
  }

  #screen(address: string, rules: Rules): Refusal | undefined {
    if (rules.deny?.(address) === true || rules.allow?.(address) === false)
      return { reason: 'denied', message: DENIED };
    if (rules.costMs === 0 && rules.banMs === 0) return undefined;
    const now = this.#now();
    let entry = this.#tracked.get(address);
    if (entry !== undefined && rules.banMs > 0 && entry.bannedUntil > now) {
      this.#use(address, entry);
      return refusal('banned', entry.bannedUntil - now);
    }
    if (rules.costMs === 0) return undefined;
    entry = this.#use(address, entry);
    const start = Math.max(entry.rateClearAt, now);
    const waitMs = start + rules.costMs - now - RATE_WINDOW_MS;
    if (waitMs > RATE_SLACK_MS) {
      // A refused connection costs nothing: a client that keeps retrying gets on once it slows down.
      const isBanned = this.#strike(address, entry, rules, now);
      return refusal('rate', isBanned ? entry.bannedUntil - now : waitMs);
    }
    entry.rateClearAt = start + rules.costMs;
    return undefined;
  }

  /** Counts a refusal towards a ban; returns whether it banned the address. */
  #strike(address: string, entry: Tracked, rules: Rules, now: number): boolean {
    if (rules.banMs === 0 || entry.bannedUntil > now) return false;
    // The window opens at the first refusal; ban_after within it ban, else it starts over.
    if (now >= entry.strikesUntil) {
      entry.strikes = 0;
      entry.strikesUntil = now + rules.banMs;
    }
    entry.strikes++;
    if (entry.strikes < rules.banAfter) return false;
    entry.strikes = 0;
    entry.strikesUntil = 0;
    entry.bannedUntil = now + rules.banMs;
    this.#logger?.warn(
      { address, server: rules.name, seconds: rules.banMs / 1000 },
      `address banned for ${rules.banMs / 1000} s after ${rules.banAfter} refused connections`,
    );
    return true;
  }

  #track(address: string): Tracked {
    if (this.#tracked.size >= this.#maxTracked) {
      // A flood of distinct addresses must not grow the map: the least recently seen goes.
      const oldest = this.#tracked.keys().next().value as string;
      this.#tracked.delete(oldest);
    }
    const entry: Tracked = { rateClearAt: 0, strikes: 0, strikesUntil: 0, bannedUntil: 0 };
    this.#tracked.set(address, entry);
    if (this.#sweeper === undefined && !this.#isStopped) {
      this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
      this.#sweeper.unref();
    }
    return entry;
  }

  /** The address's entry (a new one if it has none), moved to the end of the map: the most recently seen. */
  #use(address: string, entry = this.#tracked.get(address)): Tracked {
    if (entry === undefined) return this.#track(address);
    this.#tracked.delete(address);
    this.#tracked.set(address, entry);
    return entry;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [address, entry] of this.#tracked) {
      // Past all three, the entry says no more than a fresh one would.
      if (Math.max(entry.rateClearAt, entry.strikesUntil, entry.bannedUntil) <= now) this.#tracked.delete(address);
    }
    if (this.#tracked.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}

/** A refusal that says how long to wait. */
function refusal(reason: 'rate' | 'banned', waitMs: number): Refusal {
  const retryAfter = seconds(waitMs);
  return { reason, message: MESSAGES[reason](retryAfter === 1 ? '1 second' : `${retryAfter} seconds`), retryAfter };
}

/** Whole seconds, at least 1: what Retry-After and people can use. */
function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

function compile(config: ServerConfig): Rules {
  const rate = config.maxConnectionRatePerIp;
  return {
    name: config.name,
    deny: rangeList(config, 'deny_ips', config.denyIps),
    allow: rangeList(config, 'allow_ips', config.allowIps),
    costMs: rate > 0 ? RATE_WINDOW_MS / rate : 0,
    banAfter: config.banAfter,
    // ban_seconds 0 is a ban of no time, counted in a window of no time: no ban.
    banMs: config.banAfter > 0 ? config.banSeconds * 1000 : 0,
  };
}

/** The ranges as a test of an address, or undefined for none. */
function rangeList(
  config: ServerConfig,
  key: string,
  entries: readonly string[],
): ((address: string) => boolean) | undefined {
  if (entries.length === 0) return undefined;
  entries.forEach((entry, i) => {
    // parseConfig has checked these; a ServerConfig built in code has not.
    if (!isAddressRange(entry)) {
      throw new ConfigError(
        `${keyPath(config, key)}[${i}]: expected an IP address or CIDR range, got ${JSON.stringify(entry)}`,
      );
    }
  });
  return addressRanges(entries);
}
