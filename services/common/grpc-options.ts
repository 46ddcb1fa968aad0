/** Channel options shared by every client and server: large vectors need more than 4 MiB. */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export const GRPC_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
} as const;

export const SERVER_OPTIONS = {
  ...GRPC_OPTIONS,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
} as const;
