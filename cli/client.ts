/**
 * One connection per client command: address from --addr or SG_ADDR, token from SG_TOKEN,
 * TLS from SG_CA / SG_CERT / SG_KEY. The CLI speaks gRPC over node:http2 with the agent's
 * small transport (client/transport.ts) and the message code generated without grpc-js
 * (gen/light): loading grpc-js alone took longer than `node -e 0`, and an admin command is
 * one or two unary calls. Failures carry the address for the error line.
 */
import { Code } from '../client/status-codes.js';
import { Http2Transport } from '../client/transport.js';
import { CallFailed, CliError, EXIT, isServiceError } from './errors.js';

/** What the CLI needs of a generated message type: its codec (gen/light's MessageFns). */
interface Codec {
  encode(message: never): { finish(): Uint8Array };
  decode(input: Uint8Array): unknown;
}

/** A ts-proto generic service definition (outputServices=generic-definitions). */
export interface ServiceDefinition {
  fullName: string;
  methods: Record<string, { name: string; requestType: Codec; responseType: Codec; requestStream: boolean; responseStream: boolean }>;
}

type Method<D extends ServiceDefinition, M extends keyof D['methods']> = D['methods'][M];
type RequestOf<X> = X extends { requestType: { encode(message: infer Req): unknown } } ? Req : never;
type ResponseOf<X> = X extends { responseType: { decode(input: Uint8Array): infer Res } } ? Res : never;
type UnaryMethods<D extends ServiceDefinition> = { [M in keyof D['methods']]: D['methods'][M]['responseStream'] extends false ? M : never }[keyof D['methods']] & string;

/** Deadline for one CLI call: generous for a big import, short enough for a script to notice. */
const CALL_DEADLINE_MS = 30_000;

export interface Session {
  addr: string;
  /**
   * `s.call(ProjectServiceDefinition, 'listProjects', request)`; the definition comes from
   * gen/light, so a command loads the generated code of the services it calls and no other.
   */
  call<D extends ServiceDefinition, M extends UnaryMethods<D>>(service: D, method: M, request: RequestOf<Method<D, M>>): Promise<ResponseOf<Method<D, M>>>;
}

export interface ConnectionFlags {
  addr?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

export async function withSession<T>(flags: ConnectionFlags, fn: (s: Session) => Promise<T>): Promise<T> {
  if (Boolean(flags.cert) !== Boolean(flags.key)) throw new CliError('--cert and --key go together (mTLS)', EXIT.usage);
  const transport = new Http2Transport({ addr: flags.addr, ca: flags.ca, cert: flags.cert, key: flags.key });
  if (!transport.token) {
    throw new CliError(
      'no access token: set SG_TOKEN (the first `sg serve` writes an admin token to DATA/admin.token, e.g. export SG_TOKEN=$(cat data/admin.token))',
      EXIT.auth,
    );
  }
  const addr = transport.addr;
  const session: Session = {
    addr,
    call: async (service, method, request) => {
      const m = service.methods[method]!;
      try {
        const body = (m.requestType as { encode(message: typeof request): { finish(): Uint8Array } }).encode(request).finish();
        const reply = await transport.unary(`/${service.fullName}/${m.name}`, body, CALL_DEADLINE_MS);
        return m.responseType.decode(reply) as never;
      } catch (err) {
        throw new CallFailed(err, addr);
      }
    },
  };
  try {
    return await fn(session);
  } finally {
    transport.close();
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
      const stale = isServiceError(inner) && (inner.code === Code.ABORTED || inner.code === Code.FAILED_PRECONDITION);
      if (!stale || !retry || i >= 2) throw err;
    }
  }
}
