/**
 * One connection per client command: address from --addr or SG_ADDR, token from SG_TOKEN,
 * TLS from SG_CA / SG_CERT / SG_KEY (agent/client/connection.ts). Calls are typed from the
 * generated client signatures, and failures carry the address for the error line.
 */
import { status, type CallOptions, type ClientUnaryCall, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { connect, resolveConnectionOptions, unary, type Clients } from '../../agent/client/connection.js';
import { CallFailed, CliError, EXIT, isServiceError } from './errors.js';

type UnaryFn<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

// Inference on an overloaded method uses its last overload, which ts-proto makes the
// (request, metadata, options, callback) form.
type RequestOf<F> = F extends UnaryFn<infer Req, infer _Res> ? Req : never;
type ResponseOf<F> = F extends UnaryFn<infer _Req, infer Res> ? Res : never;
type UnaryMethods<C> = { [M in keyof C]: C[M] extends UnaryFn<never, unknown> ? M : never }[keyof C] & string;

/** Deadline for one CLI call: generous for a big import, short enough for a script to notice. */
const CALL_DEADLINE_MS = 30_000;

export interface Session {
  addr: string;
  clients: Clients;
  call<C extends object, M extends UnaryMethods<C>>(client: C, method: M, request: RequestOf<C[M]>): Promise<ResponseOf<C[M]>>;
}

export interface ConnectionFlags {
  addr?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

export async function withSession<T>(flags: ConnectionFlags, fn: (s: Session) => Promise<T>): Promise<T> {
  if (Boolean(flags.cert) !== Boolean(flags.key)) throw new CliError('--cert and --key go together (mTLS)', EXIT.usage);
  const opts = resolveConnectionOptions({ addr: flags.addr, ca: flags.ca, cert: flags.cert, key: flags.key });
  if (!opts.token) {
    throw new CliError(
      'no access token: set SG_TOKEN (the first `sg serve` writes an admin token to DATA/admin.token, e.g. export SG_TOKEN=$(cat data/admin.token))',
      EXIT.auth,
    );
  }
  const clients = connect(opts);
  const session: Session = {
    addr: opts.addr,
    clients,
    call: (client, method, request) =>
      unary(client as never, method as never, request, { deadlineMs: CALL_DEADLINE_MS }).catch((err: unknown) => {
        throw new CallFailed(err, opts.addr);
      }) as never,
  };
  try {
    return await fn(session);
  } finally {
    clients.close();
  }
}

/**
 * For read-modify-write commands (add a tag, add a restriction): `attempt` reads the record
 * and writes with the revision it read, so a concurrent change is never overwritten. With
 * `retry` (the caller gave no --expected-revision), losing such a race is retried a few times
 * on fresh data; otherwise the refusal is the answer.
 */
export async function readModifyWrite<T>(retry: boolean, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      const inner = err instanceof CallFailed ? err.error : err;
      const stale = isServiceError(inner) && (inner.code === status.ABORTED || inner.code === status.FAILED_PRECONDITION);
      if (!stale || !retry || i >= 2) throw err;
    }
  }
}
