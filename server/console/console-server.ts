/**
 * The web console's HTTP(S) server: the built UI, the session endpoints, and the API under
 * `/rpc/` — the Connect protocol (JSON), served by the Connect library from the same handlers
 * grpc-js runs (connect-mount.ts), behind the console's guards: Host check, CSRF, the session
 * and its binding, the request body cap and strict text. See API-NOTES.md for the contract the
 * UI relies on.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIPv6, type AddressInfo } from 'node:net';
import type { JsonValue } from '@bufbuild/protobuf';
import { Code, reasonOf } from '../../client/status-codes.js';
import { LIMITS } from '../domain/limits.js';
import type { Logger } from '../log.js';
import type { ServiceHandlers } from '../api/server.js';
import { StatusError } from '../api/status.js';
import { BadText, parseStrictJson } from '../api/strict-reader.js';
import { peerHost } from '../security/auth-throttle.js';
import type { ConsoleCaller, Mount } from './connect-mount.js';
import { Sessions } from './sessions.js';
import { cookies, csrfRefusal, hostAllowed, originOf, securityHeaders, SESSION_HEADER } from './http-guard.js';
import { defaultAssetDir, StaticAssets } from './static-assets.js';

export const SESSION_COOKIE = 'sg_session';
/**
 * The name under TLS: a `__Host-` cookie must be Secure, Path=/ and without Domain, so a page
 * served over plain HTTP (or from another host name) cannot set or replace it.
 */
export const TLS_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
/** The start of the 401 message when the browser sends a session this page did not sign in to. */
export const SESSION_CHANGED = 'session changed';
/** The Connect protocol's content type of streaming calls (enveloped JSON messages). */
export const CONNECT_STREAM_JSON = 'application/connect+json';

export interface ConsoleOptions {
  host: string;
  port: number;
  loopback: boolean;
  tls?: { cert: string; key: string; clientCa?: string };
  /** Directory of the built UI; default dist/console. */
  assetDir?: string;
  /** See STREAM_KEEPALIVE_MS (connect-mount.ts). */
  streamKeepAliveMs?: number;
  log: Logger;
  handlers: ServiceHandlers;
  sessions?: Sessions;
}

export interface ConsoleServer {
  /** The URL printed for users, e.g. http://127.0.0.1:8080/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly http: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** grpc-js's peer format, read back by peerHost: the console's callers are counted as gRPC's are. */
const peerOf = (address: string) => peerHost(isIPv6(address) ? `ipv6:[${address}]:0` : `ipv4:${address}:0`);

const contentType = (req: http.IncomingMessage) => (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();

/** The Connect protocol's end of a stream: flags 0x02 and the JSON of its error, if any. */
export function endStreamEnvelope(error?: { code: string; message: string }): Buffer {
  const json = Buffer.from(JSON.stringify(error ? { error } : {}));
  const head = Buffer.alloc(5);
  head[0] = 0x02;
  head.writeUInt32BE(json.byteLength, 1);
  return Buffer.concat([head, json]);
}

/**
 * The same text rule as gRPC requests (parseStrictJson) for the JSON of every enveloped message
 * of a streaming request; null when the envelopes are well formed and clean.
 */
function envelopeFault(body: Buffer): string | null {
  for (let at = 0; at < body.byteLength; ) {
    if (body.byteLength - at < 5) return 'truncated message envelope';
    const flags = body[at]!;
    const size = body.readUInt32BE(at + 1);
    if (flags !== 0 || body.byteLength - at - 5 < size) return 'malformed or compressed message envelope';
    parseStrictJson(body.subarray(at + 5, at + 5 + size));
    at += 5 + size;
  }
  return null;
}

export function createConsoleHandler(opts: Omit<ConsoleOptions, 'host' | 'port'>): http.RequestListener {
  // The Connect library and the descriptors load at the first API request: a server whose
  // console is on but unused (the default) does not carry them (~8 MB).
  let loading: Promise<Mount> | undefined;
  const mount = () => (loading ??= import('./connect-mount.js').then((m) => m.createMount(opts.handlers, opts.streamKeepAliveMs)));
  const sessions = opts.sessions ?? new Sessions();
  const assets = new StaticAssets(opts.assetDir ?? defaultAssetDir());
  const tls = Boolean(opts.tls);
  const cookieName = tls ? TLS_SESSION_COOKIE : SESSION_COOKIE;

  const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  /**
   * A refusal in the Connect protocol's shape: `{"code", "message"}` with the code's HTTP status
   * (`http` overrides it: 405, 413); a streaming request gets it as its end-of-stream message.
   */
  const sendError = (req: http.IncomingMessage, res: http.ServerResponse, code: number, message: string, httpStatus?: number) => {
    const error = { code: reasonOf(code).connect, message };
    if (contentType(req) === CONNECT_STREAM_JSON && req.url?.startsWith('/rpc/') && httpStatus === undefined) {
      const body = endStreamEnvelope(error);
      res.writeHead(200, { 'Content-Type': CONNECT_STREAM_JSON, 'Cache-Control': 'no-store', 'Content-Length': body.byteLength });
      return void res.end(body);
    }
    sendJson(res, httpStatus ?? reasonOf(code).http, error);
  };

  const callerOf = (req: http.IncomingMessage, token: string, sessionId?: string): ConsoleCaller => ({
    authorization: `Bearer ${token}`,
    peer: peerOf(req.socket.remoteAddress ?? 'unknown'),
    // A revoked or expired token ends the session too.
    settled: (code) => {
      if (code === Code.UNAUTHENTICATED && sessionId) sessions.delete(sessionId);
    },
    onSessionEnd: (fn) => (sessionId ? sessions.onEnd(sessionId, fn) : () => undefined),
  });

  /** A unary RPC without request fields, as proto3 JSON; throws HttpError for a refusal. */
  const callJson = async (service: keyof ServiceHandlers, method: string, caller: ConsoleCaller): Promise<JsonValue> => {
    try {
      return await (await mount()).callJson(service, method, caller);
    } catch (e) {
      if (e instanceof StatusError) throw new HttpError(reasonOf(e.code).http, e.code, e.details);
      throw e;
    }
  };

  const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > LIMITS.requestBytes) {
        reject(new HttpError(413, Code.RESOURCE_EXHAUSTED, `request body exceeds ${LIMITS.requestBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.byteLength;
        if (size > LIMITS.requestBytes) {
          reject(new HttpError(413, Code.RESOURCE_EXHAUSTED, `request body exceeds ${LIMITS.requestBytes} bytes`));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('error', reject);
      req.on('end', () => resolve(Buffer.concat(chunks)));
    });

  /** A JSON object body, strictly decoded: invalid UTF-8, NUL or a lone surrogate is refused, as gRPC requests are. */
  const strictObject = (body: Buffer): JsonValue => {
    try {
      const v = parseStrictJson(body);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      return v as JsonValue;
    } catch (e) {
      throw new HttpError(400, Code.INVALID_ARGUMENT, e instanceof BadText ? `request body: ${e.message}` : 'request body must be a JSON object');
    }
  };

  const sessionCookie = (value: string, maxAge?: number) =>
    `${cookieName}=${value}; HttpOnly; SameSite=Strict; Path=/${tls ? '; Secure' : ''}${maxAge !== undefined ? `; Max-Age=${maxAge}` : ''}`;
  const clearCookie = sessionCookie('', 0);

  /**
   * The session this page signed in to: a session cookie the browser sent whose binding secret
   * the page sends too. A cookie without the page's binding (set by another site on this host,
   * or by a sign-in in another tab) is refused, so the page never acts as someone else.
   */
  const boundSession = (req: http.IncomingMessage): string | undefined => {
    const binding = req.headers[SESSION_HEADER];
    if (typeof binding !== 'string') return undefined;
    return cookies(req, cookieName).find((id) => sessions.bound(id, binding));
  };

  /** The bound session's id and token, or 401 (not signed in, the session ended or changed). */
  const session = (req: http.IncomingMessage): { id: string; token: string } => {
    const id = boundSession(req);
    const token = sessions.token(id);
    if (id && token) return { id, token };
    if (req.headers[SESSION_HEADER] === undefined) throw new HttpError(401, Code.UNAUTHENTICATED, 'not signed in on this page: sign in with a token');
    if (cookies(req, cookieName).some((other) => sessions.binding(other) !== undefined)) {
      throw new HttpError(
        401,
        Code.UNAUTHENTICATED,
        `${SESSION_CHANGED}: the browser sent a session this page did not sign in to (a sign-in in another tab, or a cookie set by another site on this host); sign in again`,
      );
    }
    throw new HttpError(401, Code.UNAUTHENTICATED, 'not signed in (or the session ended): sign in with a token');
  };

  /** Who the token is: WhoAmI, plus its role's rights (absent for workload tokens). */
  const whoAmI = async (caller: ConsoleCaller) => {
    const who = (await callJson('access', 'whoAmI', caller)) as { token?: { role?: string; expiresAtMs?: string | number; workload?: unknown } };
    // Workload tokens may not list roles (and have none worth showing).
    if (!who.token || who.token.workload) return { token: who.token ?? null, role: null };
    const roles = (await callJson('access', 'listRoles', caller)) as { roles?: { name: string }[] };
    return { token: who.token, role: roles.roles?.find((r) => r.name === who.token?.role) ?? null };
  };

  const handleSession = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method === 'GET') {
      const { id, token } = session(req);
      try {
        return sendJson(res, 200, await whoAmI(callerOf(req, token)));
      } catch (e) {
        if (e instanceof HttpError && e.code === Code.UNAUTHENTICATED) sessions.delete(id);
        throw e;
      }
    }
    if (req.method === 'DELETE') {
      // Only the page's own session ends; the cookie is cleared either way.
      sessions.delete(boundSession(req));
      res.writeHead(204, { 'Set-Cookie': clearCookie, 'Cache-Control': 'no-store' });
      return res.end();
    }
    if (req.method === 'POST') {
      const body = strictObject(await readBody(req)) as { token?: unknown };
      const token = typeof body.token === 'string' ? body.token.trim() : '';
      if (!token) throw new HttpError(400, Code.INVALID_ARGUMENT, 'token is required');
      if (token.length > 4096 || /[\r\n]/.test(token)) throw new HttpError(401, Code.UNAUTHENTICATED, 'that token is not valid');
      let who: Awaited<ReturnType<typeof whoAmI>>;
      try {
        who = await whoAmI(callerOf(req, token));
      } catch (e) {
        if (e instanceof HttpError && e.code === Code.UNAUTHENTICATED) {
          throw new HttpError(401, Code.UNAUTHENTICATED, `sign-in refused: ${e.message}`);
        }
        throw e;
      }
      // The browser's previous sessions end: the new cookie replaces theirs.
      for (const old of cookies(req, cookieName)) sessions.delete(old);
      const expires = Number(who.token?.expiresAtMs ?? 0);
      const sid = sessions.create(token, Number.isFinite(expires) ? expires : 0);
      // The binding goes to this page only (it keeps it in its tab), never into a cookie.
      return sendJson(res, 200, { ...who, binding: sessions.binding(sid) }, { 'Set-Cookie': sessionCookie(sid) });
    }
    throw new HttpError(405, Code.UNIMPLEMENTED, 'use GET, POST or DELETE on /session');
  };

  /** An RPC: the guards and the session here, then the Connect library's handler of the method. */
  const handleRpc = async (req: http.IncomingMessage, res: http.ServerResponse, path: string) => {
    if (req.method !== 'POST') throw new HttpError(405, Code.UNIMPLEMENTED, 'RPCs are called with POST');
    // The session first: a request without one does not load the Connect stack (see mount).
    const { id, token } = session(req);
    const rpcs = await mount();
    if (!rpcs.has(path)) throw new HttpError(404, Code.UNIMPLEMENTED, `unknown RPC ${path.slice(1, 121)}`);
    const body = await readBody(req);
    // Unary calls are one JSON object; streaming calls enveloped JSON (the content types the CSRF guard admits).
    const streaming = contentType(req) === CONNECT_STREAM_JSON;
    let parsed: JsonValue | undefined;
    if (streaming) {
      let fault: string | null;
      try {
        fault = envelopeFault(body);
      } catch (e) {
        fault = e instanceof BadText ? `request body: ${e.message}` : 'request message must be a JSON object';
      }
      if (fault) throw new HttpError(400, Code.INVALID_ARGUMENT, fault);
    } else {
      parsed = strictObject(body);
    }
    res.setHeader('Cache-Control', 'no-store');
    // Streams are answered as they come: no buffering proxy (nginx) may hold the messages back.
    if (streaming) res.setHeader('X-Accel-Buffering', 'no');
    await rpcs.serve(req, res, path, callerOf(req, token, id), parsed === undefined ? { body } : { json: parsed });
  };

  return (req, res) => {
    securityHeaders(res);
    if (!hostAllowed(req, opts.loopback)) {
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('this console answers only requests addressed to a loopback name');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const path = url.pathname;
    const api = path === '/session' || path.startsWith('/rpc/');
    const refusal = csrfRefusal(req, originOf(req, tls));
    if (refusal) {
      req.resume();
      return sendError(req, res, Code.PERMISSION_DENIED, refusal);
    }
    if (!api) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' });
        res.end();
        return;
      }
      return assets.serve(path, res, req.method === 'HEAD');
    }
    const work = path === '/session' ? handleSession(req, res) : handleRpc(req, res, path.slice('/rpc'.length));
    work.catch((e: unknown) => {
      req.resume();
      if (res.headersSent) return void res.end();
      if (e instanceof HttpError) return sendError(req, res, e.code, e.message, e.http === reasonOf(e.code).http ? undefined : e.http);
      opts.log.error({ path, err: e instanceof Error ? e.name : 'unknown' }, 'console request failed');
      sendError(req, res, Code.INTERNAL, 'internal error');
    });
  };
}

/**
 * Listens; resolves when bound. Errors (EADDRINUSE…) reject with the listen error so the
 * caller can decide whether a taken default port is fatal.
 */
export async function startConsole(opts: ConsoleOptions): Promise<ConsoleServer> {
  const handler = createConsoleHandler(opts);
  const server = opts.tls
    ? https.createServer(
        {
          cert: readFileSync(opts.tls.cert),
          key: readFileSync(opts.tls.key),
          ...(opts.tls.clientCa ? { ca: readFileSync(opts.tls.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
        },
        handler,
      )
    : http.createServer(handler);
  // Bounded slow-client behaviour; streams (Watch) are long-lived responses, not requests.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const shownHost = host === '0.0.0.0' || host === '[::]' ? 'localhost' : host;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${shownHost}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
