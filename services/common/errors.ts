/**
 * Typed service errors and the ONE place where errors become gRPC statuses.
 * Handlers throw; `toGrpcError` maps. Anything unknown becomes INTERNAL with a reference id
 * (logged with the details) and no internals in the message.
 */
import { status, type ServiceError as GrpcServiceError, Metadata } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';

export const ErrorCode = {
  InvalidArgument: status.INVALID_ARGUMENT,
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  PermissionDenied: status.PERMISSION_DENIED,
  Unauthenticated: status.UNAUTHENTICATED,
  FailedPrecondition: status.FAILED_PRECONDITION,
  ResourceExhausted: status.RESOURCE_EXHAUSTED,
  Unavailable: status.UNAVAILABLE,
  Aborted: status.ABORTED,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error whose message is safe to show to the caller. */
export class BlindsumError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'BlindsumError';
    this.code = code;
  }
}

export const invalidArgument = (m: string): BlindsumError => new BlindsumError(ErrorCode.InvalidArgument, m);
export const notFound = (m: string): BlindsumError => new BlindsumError(ErrorCode.NotFound, m);
export const permissionDenied = (m: string): BlindsumError => new BlindsumError(ErrorCode.PermissionDenied, m);
export const unauthenticated = (m: string): BlindsumError => new BlindsumError(ErrorCode.Unauthenticated, m);
export const failedPrecondition = (m: string): BlindsumError => new BlindsumError(ErrorCode.FailedPrecondition, m);

/** Domain errors from the libraries whose messages are written for users (no secrets). */
const USER_FACING = new Set(['QueryError', 'SchemaError', 'DatasetError', 'CsvError', 'ConfigError']);

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A structured logger (services/common/log.ts): `fields` are nested under "fields" in the line;
 * a `queryId` field is lifted to the line's fixed `queryId` key.
 */
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export function toGrpcError(err: unknown, log: Logger): Partial<GrpcServiceError> {
  if (err instanceof BlindsumError) return { code: err.code, details: err.message, metadata: new Metadata() };
  if (err instanceof Error && err.name === 'AnalystAuthError') {
    // services/common/query-request.ts: an unsigned, wrongly signed or unauthorized analyst request.
    const kind = (err as Error & { kind?: string }).kind;
    return { code: kind === 'permission' ? status.PERMISSION_DENIED : kind === 'invalid' ? status.INVALID_ARGUMENT : status.UNAUTHENTICATED, details: err.message, metadata: new Metadata() };
  }
  if (err instanceof Error && USER_FACING.has(err.name)) {
    return { code: status.INVALID_ARGUMENT, details: err.message, metadata: new Metadata() };
  }
  const ref = randomUUID().slice(0, 8);
  log('error', `internal error ref=${ref}`, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return { code: status.INTERNAL, details: `internal error (reference ${ref}; see the aggregator log)`, metadata: new Metadata() };
}

/** A user-facing message for any error (used on streams and in stored query failures). */
export function publicMessage(err: unknown): string {
  if (err instanceof BlindsumError) return err.message;
  if (err instanceof Error && (USER_FACING.has(err.name) || err.name === 'SecAggError' || err.name === 'AnalystAuthError')) return err.message;
  return 'internal error';
}

/** The one helper that quotes input in errors and logs (a short prefix only): stats/query.ts quote. */
export { quote } from '../../stats/query.ts';

/** gRPC status → the Connect protocol's error code and HTTP status (connectrpc.com/docs/protocol#error-codes). */
const CONNECT_CODES: Record<number, [string, number]> = {
  [status.CANCELLED]: ['canceled', 499], [status.UNKNOWN]: ['unknown', 500], [status.INVALID_ARGUMENT]: ['invalid_argument', 400],
  [status.DEADLINE_EXCEEDED]: ['deadline_exceeded', 504], [status.NOT_FOUND]: ['not_found', 404], [status.ALREADY_EXISTS]: ['already_exists', 409],
  [status.PERMISSION_DENIED]: ['permission_denied', 403], [status.RESOURCE_EXHAUSTED]: ['resource_exhausted', 429], [status.FAILED_PRECONDITION]: ['failed_precondition', 400],
  [status.ABORTED]: ['aborted', 409], [status.OUT_OF_RANGE]: ['out_of_range', 400], [status.UNIMPLEMENTED]: ['unimplemented', 501],
  [status.INTERNAL]: ['internal', 500], [status.UNAVAILABLE]: ['unavailable', 503], [status.DATA_LOSS]: ['data_loss', 500], [status.UNAUTHENTICATED]: ['unauthenticated', 401],
};

/** A Connect error: the JSON body {code, message} and the HTTP status of a unary answer. */
export interface ConnectError {
  readonly httpStatus: number;
  readonly body: { code: string; message: string };
}

/** The same mapping as toGrpcError (same codes, same messages, same INTERNAL reference), in the Connect protocol's terms. */
export function toConnectError(err: unknown, log: Logger): ConnectError {
  const g = toGrpcError(err, log);
  const [code, httpStatus] = CONNECT_CODES[g.code ?? status.UNKNOWN] ?? ['unknown', 500];
  return { httpStatus, body: { code, message: g.details ?? '' } };
}

/** A Connect error for a request the transport itself refuses (bad JSON, too large, unknown method). */
export function connectError(code: ErrorCode | status, message: string): ConnectError {
  const [name, httpStatus] = CONNECT_CODES[code] ?? ['unknown', 500];
  return { httpStatus, body: { code: name, message } };
}

/** An HTTP-level refusal of the Connect transport (405 wrong method, 415 wrong content type): Connect code "unimplemented". */
export function connectHttpError(httpStatus: 405 | 415, message: string): ConnectError {
  return { httpStatus, body: { code: 'unimplemented', message } };
}
