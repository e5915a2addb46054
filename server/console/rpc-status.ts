/**
 * gRPC status -> the Connect protocol's error JSON ({"code": "permission_denied", "message"})
 * and HTTP status (https://connectrpc.com/docs/protocol#error-codes).
 */
import { status as S } from '@grpc/grpc-js';

const CODES: Record<number, [name: string, http: number]> = {
  [S.CANCELLED]: ['canceled', 499],
  [S.UNKNOWN]: ['unknown', 500],
  [S.INVALID_ARGUMENT]: ['invalid_argument', 400],
  [S.DEADLINE_EXCEEDED]: ['deadline_exceeded', 504],
  [S.NOT_FOUND]: ['not_found', 404],
  [S.ALREADY_EXISTS]: ['already_exists', 409],
  [S.PERMISSION_DENIED]: ['permission_denied', 403],
  [S.RESOURCE_EXHAUSTED]: ['resource_exhausted', 429],
  [S.FAILED_PRECONDITION]: ['failed_precondition', 400],
  [S.ABORTED]: ['aborted', 409],
  [S.OUT_OF_RANGE]: ['out_of_range', 400],
  [S.UNIMPLEMENTED]: ['unimplemented', 501],
  [S.INTERNAL]: ['internal', 500],
  [S.UNAVAILABLE]: ['unavailable', 503],
  [S.DATA_LOSS]: ['data_loss', 500],
  [S.UNAUTHENTICATED]: ['unauthenticated', 401],
};

export interface RpcError {
  code: string;
  message: string;
}

export function rpcError(code: number | undefined, message: string | undefined): { http: number; body: RpcError } {
  const [name, http] = CODES[code ?? S.UNKNOWN] ?? CODES[S.UNKNOWN]!;
  return { http, body: { code: name, message: message ?? '' } };
}
