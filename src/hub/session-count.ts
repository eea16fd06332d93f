// How many sessions a hub holds, published as it changes: process-wide policies (the launcher's
// memory reducer) follow sessions through this channel without knowing any hub.
import { channel } from 'node:diagnostics_channel';

export const SESSION_COUNT_CHANNEL = 'chuk-protocol-server:session-count';

/** A hub publishes the number of sessions it holds each time one joins or leaves it. */
export const sessionCount = channel(SESSION_COUNT_CHANNEL);
