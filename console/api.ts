/**
 * A small typed client of the Connect protocol (JSON) over the generated service definitions
 * (console/gen.ts): a unary call is a POST of proto3 JSON to /rpc/<package.Service>/<Method> on the
 * console's origin, answered in proto3 JSON; a server stream (serverStream) posts one enveloped
 * message as application/connect+json and reads enveloped messages up to the end-of-stream
 * message. Request and response types come from the definitions, so pages are typed end to end
 * from the protos. (@connectrpc/connect-web needs @bufbuild/protobuf descriptors, which the
 * console's ts-proto definitions are not; this is the protocol's few rules instead.)
 */
import { codeName, codeOfConnectName, codeOfHttpStatus } from '../client/status-codes.js';

interface Codec<T> {
  fromJSON(object: unknown): T;
  toJSON(message: T): unknown;
  fromPartial(object: never): T;
}
interface UnaryMethod {
  name: string;
  requestType: Codec<any>;
  responseType: Codec<any>;
  requestStream: boolean;
  responseStream: boolean;
}
interface ServiceDefinition {
  fullName: string;
  methods: Record<string, UnaryMethod>;
}

type Builtin = Date | Function | Uint8Array | string | number | boolean | undefined;
export type DeepPartial<T> = T extends Builtin
  ? T
  : T extends Array<infer U>
    ? Array<DeepPartial<U>>
    : T extends {}
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : Partial<T>;

type RequestOf<M> = M extends { requestType: Codec<infer R> } ? R : never;
type ResponseOf<M> = M extends { responseType: Codec<infer R> } ? R : never;

/** A refused call: the gRPC status code name and the server's message, shown as is. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called with the server's message when the session is gone (expired, signed out, revoked, changed). */
let onUnauthenticated: (message: string) => void = () => {};
export function setUnauthenticatedHandler(fn: (message: string) => void): void {
  onUnauthenticated = fn;
}

/**
 * The binding secret of the session this tab signed in to (see server/console/sessions.ts).
 * Sent on every request: the server refuses a session cookie that arrives without it, so a
 * cookie set by another site on this host cannot swap this tab into another session. Kept in
 * sessionStorage, which belongs to this tab alone, so a reload keeps the binding and still
 * refuses a cookie swapped in meanwhile; a new tab signs in anew.
 */
const BINDING_KEY = 'console.binding';
export function setBinding(binding: string | undefined): void {
  try {
    if (binding) sessionStorage.setItem(BINDING_KEY, binding);
    else sessionStorage.removeItem(BINDING_KEY);
  } catch {
    // storage disabled: the binding lives as long as the page
  }
  memoryBinding = binding;
}
let memoryBinding: string | undefined;
function binding(): string | undefined {
  try {
    return sessionStorage.getItem(BINDING_KEY) ?? memoryBinding;
  } catch {
    return memoryBinding;
  }
}

/** The console's headers for a request: the CSRF header, and the session binding when there is one. */
export function consoleHeaders(): Record<string, string> {
  const b = binding();
  return { 'Content-Type': 'application/json', [CONSOLE_HEADER]: '1', ...(b ? { [SESSION_HEADER]: b } : {}) };
}

/**
 * Every state-changing request carries this header with a JSON body: a cross-site page cannot
 * send either without a CORS preflight, which the console never grants (its CSRF defence).
 */
const CONSOLE_HEADER = 'X-SG-Console';
const SESSION_HEADER = 'X-SG-Session';

export async function call<S extends ServiceDefinition, K extends keyof S['methods'] & string>(
  service: S,
  method: K,
  request: DeepPartial<RequestOf<S['methods'][K]>>,
): Promise<ResponseOf<S['methods'][K]>> {
  const m = service.methods[method]!;
  const body = JSON.stringify(m.requestType.toJSON(m.requestType.fromPartial(request as never)));
  const res = await post(`/rpc/${service.fullName}/${m.name}`, body, 'POST', { 'Connect-Protocol-Version': '1' });
  return m.responseType.fromJSON(res) as ResponseOf<S['methods'][K]>;
}

/** The Connect protocol's envelope of one message: flags, big-endian length, the JSON. */
function envelope(json: string): Uint8Array<ArrayBuffer> {
  const data = new TextEncoder().encode(json);
  const out = new Uint8Array(5 + data.byteLength);
  new DataView(out.buffer).setUint32(1, data.byteLength);
  out.set(data, 5);
  return out;
}

/**
 * A server stream: `onMessage` for each response message; resolves when the server ends the
 * stream normally, throws ApiError when it ends it with an error or the connection drops
 * (AbortError when `signal` aborts).
 */
export async function serverStream<S extends ServiceDefinition, K extends keyof S['methods'] & string>(
  service: S,
  method: K,
  request: DeepPartial<RequestOf<S['methods'][K]>>,
  onMessage: (message: ResponseOf<S['methods'][K]>) => void,
  signal: AbortSignal,
): Promise<void> {
  const m = service.methods[method]!;
  const res = await fetch(`/rpc/${service.fullName}/${m.name}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { ...consoleHeaders(), 'Content-Type': 'application/connect+json', 'Connect-Protocol-Version': '1' },
    body: envelope(JSON.stringify(m.requestType.toJSON(m.requestType.fromPartial(request as never)))),
    signal,
  });
  if (!res.ok || !res.body) throw await errorOf(res);
  const reader = res.body.getReader();
  const text = new TextDecoder();
  let buf = new Uint8Array(0);
  for (;;) {
    while (buf.byteLength >= 5) {
      const size = new DataView(buf.buffer, buf.byteOffset).getUint32(1);
      if (buf.byteLength < 5 + size) break;
      const flags = buf[0]!;
      const json: unknown = JSON.parse(text.decode(buf.subarray(5, 5 + size)));
      buf = buf.subarray(5 + size);
      if (flags & 0x02) {
        const error = (json as { error?: { code?: unknown; message?: unknown } }).error;
        if (!error) return;
        throw new ApiError(typeof error.code === 'string' ? codeName(codeOfConnectName(error.code)) : 'UNKNOWN', typeof error.message === 'string' ? error.message : '');
      }
      onMessage(m.responseType.fromJSON(json) as ResponseOf<S['methods'][K]>);
    }
    const { value, done } = await reader.read();
    if (done) throw new ApiError('UNAVAILABLE', 'The stream ended before the server closed it.');
    const next = new Uint8Array(buf.byteLength + value.byteLength);
    next.set(buf);
    next.set(value, buf.byteLength);
    buf = next;
  }
}

/** Sends JSON to the console with its header and the session cookie; throws ApiError. */
export async function post(path: string, body: string | undefined, method = 'POST', headers: Record<string, string> = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { ...consoleHeaders(), ...headers },
      body,
    });
  } catch {
    throw new ApiError('UNAVAILABLE', 'The console server cannot be reached.');
  }
  if (!res.ok) throw await errorOf(res);
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return {};
  }
}

/**
 * A refused request's ApiError, from the Connect error body (`{"code", "message"}`) or, without
 * one, the HTTP status. A refusal for want of a session signs the page out.
 */
async function errorOf(res: Response): Promise<ApiError> {
  let err: { code?: unknown; message?: unknown } = {};
  try {
    err = ((await res.json()) ?? {}) as typeof err;
  } catch {
    // not JSON: a proxy's page
  }
  const code = codeName(typeof err.code === 'string' ? codeOfConnectName(err.code) : codeOfHttpStatus(res.status));
  const message = typeof err.message === 'string' ? err.message : `${res.status} ${res.statusText}`;
  if (code === 'UNAUTHENTICATED' || res.status === 401) {
    setBinding(undefined);
    onUnauthenticated(message);
  }
  return new ApiError(code, message);
}

/** The message to show for any thrown value. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
