/**
 * A small typed client over the generated service definitions (gen/light): every call is a
 * POST of proto3 JSON to /rpc/<package.Service>/<Method> on the console's origin, answered in
 * proto3 JSON. Request and response types come from the definitions, so pages are typed end
 * to end from the protos.
 */

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
  const res = await post(`/rpc/${service.fullName}/${m.name}`, body);
  return m.responseType.fromJSON(res) as ResponseOf<S['methods'][K]>;
}

/** Sends JSON to the console with its header and the session cookie; throws ApiError. */
export async function post(path: string, body: string | undefined, method = 'POST'): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: consoleHeaders(),
      body,
    });
  } catch {
    throw new ApiError('UNAVAILABLE', 'The console server cannot be reached.');
  }
  const text = await res.text();
  let json: unknown = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = {};
  }
  if (!res.ok) {
    const err = (json ?? {}) as { code?: unknown; message?: unknown; error?: unknown };
    const code = typeof err.code === 'string' ? err.code.toUpperCase() : statusName(res.status);
    const message = typeof err.message === 'string' ? err.message : typeof err.error === 'string' ? err.error : `${res.status} ${res.statusText}`;
    if (code === 'UNAUTHENTICATED' || res.status === 401) {
      setBinding(undefined);
      onUnauthenticated(message);
    }
    throw new ApiError(code, message);
  }
  return json;
}

function statusName(status: number): string {
  switch (status) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    default:
      return 'UNKNOWN';
  }
}

/** The message to show for any thrown value. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
