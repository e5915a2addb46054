/** A failed RPC as the client reports it. The codes and their reasons are client/status-codes.ts. */
import { codeName, isTransientCode } from './status-codes.js';

export { Code, codeName, isTransientCode, type CodeName } from './status-codes.js';

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
