/**
 * Channel options shared by every client and server: large vectors need more than 4 MiB, and
 * keepalive is sized from the work (issue 14): a peer answers a keepalive ping only between two
 * slices of its event loop, so the ping timeout must exceed the longest pause a peer may take,
 * i.e. handling one message of MAX_MESSAGE_BYTES (decode, verify its signature, hash it) while
 * every process of a federation shares one host's cores (the local federation: n + 1 processes).
 * Heavy protocol steps are sliced (services/common/steps.ts), so this one step bounds the pause.
 */
import { availableParallelism } from 'node:os';
import { contentionFactor, FLOOR_COSTS, measureWorkCosts, type WorkCosts } from './work-costs.ts';

export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/** Keepalive ping interval, and the bounds of the ping timeout. */
export const KEEPALIVE_TIME_MS = 20_000;
export const KEEPALIVE_TIMEOUT_MIN_MS = 10_000;
export const KEEPALIVE_TIMEOUT_MAX_MS = 600_000;

/**
 * The keepalive ping timeout for a federation of `parties`: 10 s plus 3 × the time to handle one
 * largest message at `costs` (three passes over its bytes: decode, signature, digest) when
 * parties + 1 processes share `cores`, between 10 s and 10 minutes.
 */
export function keepaliveTimeoutMs(parties: number, costs: WorkCosts, cores: number = availableParallelism()): number {
  const pauseMs = 3 * MAX_MESSAGE_BYTES * costs.byteMs * contentionFactor(parties + 1, 0, cores);
  return Math.round(Math.min(KEEPALIVE_TIMEOUT_MAX_MS, Math.max(KEEPALIVE_TIMEOUT_MIN_MS, KEEPALIVE_TIMEOUT_MIN_MS + 3 * pauseMs)));
}

/** Client options (parties, analysts); `parties` sizes the keepalive timeout (default: a small federation). */
export function clientOptions(parties = 3, costs: WorkCosts = measureWorkCosts()): Record<string, number> {
  return {
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': keepaliveTimeoutMs(parties, costs),
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  };
}

/** Server options (the aggregator). */
export function serverOptions(parties = 3, costs: WorkCosts = measureWorkCosts()): Record<string, number> {
  return { ...clientOptions(parties, costs), 'grpc.http2.min_ping_interval_without_data_ms': 5_000 };
}

/** Options of a small federation (3 parties) at the floor costs (nothing measured at import), for clients that know no roster. */
export const GRPC_OPTIONS: Readonly<Record<string, number>> = Object.freeze(clientOptions(3, FLOOR_COSTS));
export const SERVER_OPTIONS: Readonly<Record<string, number>> = Object.freeze(serverOptions(3, FLOOR_COSTS));
