/**
 * The web console's HTTP(S) server: the built UI, the session endpoints and the API
 * (`POST /rpc/secretgroups.v1.<Service>/<Method>`, proto3 JSON in and out; server streams as
 * newline-delimited JSON). Every RPC runs the gRPC handler itself (see rpc-routes.ts and
 * synthetic-call.ts). See API-NOTES.md for the contract the UI relies on.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { status as S } from '@grpc/grpc-js';
import { LIMITS } from '../domain/limits.js';
import type { Logger } from '../log.js';
import type { ServiceHandlers } from '../api/server.js';
import { BadText, parseStrictJson } from '../api/strict-reader.js';
import { buildRoutes, requestFromJson, responseToJson, type Route } from './rpc-routes.js';
import { rpcError } from './rpc-status.js';
import { invokeUnary, SyntheticStream, type Caller } from './synthetic-call.js';
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
/** Interval of the blank keep-alive lines on NDJSON streams. */
export const STREAM_KEEPALIVE_MS = 25_000;

export interface ConsoleOptions {
  host: string;
  port: number;
  loopback: boolean;
  tls?: { cert: string; key: string; clientCa?: string };
  /** Directory of the built UI; default dist/console. */
  assetDir?: string;
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

const WHOAMI = 'secretgroups.v1.AccessService/WhoAmI';
const LIST_ROLES = 'secretgroups.v1.AccessService/ListRoles';

export function createConsoleHandler(opts: Omit<ConsoleOptions, 'host' | 'port'>): http.RequestListener {
  const routes = buildRoutes(opts.handlers);
  const sessions = opts.sessions ?? new Sessions();
  const assets = new StaticAssets(opts.assetDir ?? defaultAssetDir());
  const tls = Boolean(opts.tls);
  const cookieName = tls ? TLS_SESSION_COOKIE : SESSION_COOKIE;

  const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  /** `http` overrides the status the code maps to (405, 413). */
  const sendError = (res: http.ServerResponse, code: number, message: string, http?: number) => {
    const e = rpcError(code, message);
    sendJson(res, http ?? e.http, e.body);
  };

  const callerOf = (req: http.IncomingMessage, token: string): Caller => ({ token, address: req.socket.remoteAddress ?? 'unknown' });

  /** Runs a unary RPC as `caller`; throws HttpError for a refusal. */
  const unaryJson = async (route: Route, body: unknown, caller: Caller): Promise<unknown> => {
    let request: unknown;
    try {
      request = requestFromJson(route, body);
    } catch {
      throw new HttpError(400, S.INVALID_ARGUMENT, `request is not a valid ${route.name} request message`);
    }
    const out = await invokeUnary(route.handler, request, caller);
    if (!out.ok) throw new HttpError(rpcError(out.code, '').http, out.code, out.message);
    return responseToJson(route, out.value);
  };

  const readJson = (req: http.IncomingMessage): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > LIMITS.requestBytes) {
        reject(new HttpError(413, S.RESOURCE_EXHAUSTED, `request body exceeds ${LIMITS.requestBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.byteLength;
        if (size > LIMITS.requestBytes) {
          reject(new HttpError(413, S.RESOURCE_EXHAUSTED, `request body exceeds ${LIMITS.requestBytes} bytes`));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('error', reject);
      req.on('end', () => {
        try {
          // Strict: invalid UTF-8, NUL or a lone surrogate is refused, as gRPC requests are.
          const v = parseStrictJson(Buffer.concat(chunks));
          if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
          resolve(v);
        } catch (e) {
          reject(new HttpError(400, S.INVALID_ARGUMENT, e instanceof BadText ? `request body: ${e.message}` : 'request body must be a JSON object'));
        }
      });
    });

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
    if (req.headers[SESSION_HEADER] === undefined) throw new HttpError(401, S.UNAUTHENTICATED, 'not signed in on this page: sign in with a token');
    if (cookies(req, cookieName).some((other) => sessions.binding(other) !== undefined)) {
      throw new HttpError(
        401,
        S.UNAUTHENTICATED,
        `${SESSION_CHANGED}: the browser sent a session this page did not sign in to (a sign-in in another tab, or a cookie set by another site on this host); sign in again`,
      );
    }
    throw new HttpError(401, S.UNAUTHENTICATED, 'not signed in (or the session ended): sign in with a token');
  };

  /** Who the token is: WhoAmI, plus its role's rights (absent for workload tokens). */
  const whoAmI = async (caller: Caller) => {
    const who = (await unaryJson(routes.get(WHOAMI)!, {}, caller)) as { token?: { role?: string; expiresAtMs?: string | number; workload?: unknown } };
    // Workload tokens may not list roles (and have none worth showing).
    if (!who.token || who.token.workload) return { token: who.token ?? null, role: null };
    const roles = (await unaryJson(routes.get(LIST_ROLES)!, {}, caller)) as { roles?: { name: string }[] };
    return { token: who.token, role: roles.roles?.find((r) => r.name === who.token?.role) ?? null };
  };

  const handleSession = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method === 'GET') {
      const { id, token } = session(req);
      try {
        return sendJson(res, 200, await whoAmI(callerOf(req, token)));
      } catch (e) {
        if (e instanceof HttpError && e.code === S.UNAUTHENTICATED) sessions.delete(id);
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
      const body = (await readJson(req)) as { token?: unknown };
      const token = typeof body.token === 'string' ? body.token.trim() : '';
      if (!token) throw new HttpError(400, S.INVALID_ARGUMENT, 'token is required');
      if (token.length > 4096 || /[\r\n]/.test(token)) throw new HttpError(401, S.UNAUTHENTICATED, 'that token is not valid');
      let who: Awaited<ReturnType<typeof whoAmI>>;
      try {
        who = await whoAmI(callerOf(req, token));
      } catch (e) {
        if (e instanceof HttpError && e.code === S.UNAUTHENTICATED) {
          throw new HttpError(401, S.UNAUTHENTICATED, `sign-in refused: ${e.message}`);
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
    throw new HttpError(405, S.UNIMPLEMENTED, 'use GET, POST or DELETE on /session');
  };

  const handleRpc = async (req: http.IncomingMessage, res: http.ServerResponse, name: string) => {
    if (req.method !== 'POST') throw new HttpError(405, S.UNIMPLEMENTED, 'RPCs are called with POST');
    const route = routes.get(name);
    if (!route) throw new HttpError(404, S.UNIMPLEMENTED, `unknown RPC ${name.slice(0, 120)}`);
    const { id, token } = session(req);
    const body = await readJson(req);
    const caller = callerOf(req, token);
    if (!route.serverStreaming) {
      try {
        return sendJson(res, 200, await unaryJson(route, body, caller));
      } catch (e) {
        // A revoked or expired token ends the session too.
        if (e instanceof HttpError && e.code === S.UNAUTHENTICATED) sessions.delete(id);
        throw e;
      }
    }
    return stream(route, body, caller, res, id);
  };

  /** A server stream as newline-delimited JSON: {"result": …} per message, {"error": …} last on failure. */
  const stream = (route: Route, body: unknown, caller: Caller, res: http.ServerResponse, sessionId: string) => {
    let request: unknown;
    try {
      request = requestFromJson(route, body);
    } catch {
      throw new HttpError(400, S.INVALID_ARGUMENT, `request is not a valid ${route.name} request message`);
    }
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    };
    const call = new SyntheticStream(request, caller, {
      message: (value) => {
        start();
        return res.write(`${JSON.stringify({ result: responseToJson(route, value) })}\n`);
      },
      error: (code, message) => {
        if (!started) return sendError(res, code, message);
        res.end(`${JSON.stringify({ error: rpcError(code, message).body })}\n`);
      },
      end: () => {
        start();
        res.end();
      },
    });
    res.on('drain', () => call.emit('drain'));
    const unregister = sessions.onEnd(sessionId, () => call.abort(S.UNAUTHENTICATED, 'the session ended: sign in again'));
    // A blank line now and then keeps proxies from timing the stream out and lets a write
    // fail (and the subscription end) when the browser vanished without closing.
    const keepAlive = setInterval(() => {
      if (started && !res.writableEnded) res.write('\n');
    }, STREAM_KEEPALIVE_MS);
    keepAlive.unref();
    res.on('close', () => {
      clearInterval(keepAlive);
      unregister();
      call.cancel();
    });
    (route.handler as (c: unknown) => void)(call);
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
      return sendError(res, S.PERMISSION_DENIED, refusal);
    }
    if (!api) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' });
        res.end();
        return;
      }
      return assets.serve(path, res, req.method === 'HEAD');
    }
    const work = path === '/session' ? handleSession(req, res) : handleRpc(req, res, path.slice('/rpc/'.length));
    work.catch((e: unknown) => {
      req.resume();
      if (res.headersSent) return void res.end();
      if (e instanceof HttpError) return sendError(res, e.code, e.message, e.http);
      opts.log.error({ path, err: e instanceof Error ? e.name : 'unknown' }, 'console request failed');
      sendError(res, S.INTERNAL, 'internal error');
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
