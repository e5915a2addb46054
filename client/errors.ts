/**
 * gRPC status codes as the client reports them, and which of them are worth retrying.
 * Mirrors @grpc/grpc-js `status` without loading it.
 */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type CodeName = keyof typeof Code;

const names = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k])) as Record<number, CodeName>;

export function codeName(code: number): CodeName | `CODE_${number}` {
  return names[code] ?? `CODE_${code}`;
}

/** A failed RPC: the gRPC status code and the server's message (which never carries values). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${details || 'no details'} (${codeName(code)})`);
    this.name = 'RpcError';
  }

  /** Errors that a later attempt may not repeat: the server is down, restarting or overloaded. */
  get transient(): boolean {
    return isTransientCode(this.code);
  }
}

export function isTransientCode(code: number): boolean {
  return (
    code === Code.UNAVAILABLE ||
    code === Code.DEADLINE_EXCEEDED ||
    code === Code.RESOURCE_EXHAUSTED ||
    code === Code.ABORTED ||
    code === Code.INTERNAL ||
    code === Code.UNKNOWN ||
    code === Code.CANCELLED
  );
}
