/**
 * Request checks of the console that do not depend on a route: CSRF (every state-changing
 * request must be a same-origin fetch with a JSON body — plain, or the Connect protocol's
 * enveloped JSON of streaming calls — and the console's header), the Host
 * header (a loopback console answers only loopback names, which defeats DNS rebinding), and
 * the response headers every answer carries.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const CONSOLE_HEADER = 'x-sg-console';
/** Carries the session's binding secret on every session and RPC request (see sessions.ts). */
export const SESSION_HEADER = 'x-sg-session';

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a state-changing request must be refused as cross-site, or null when it may proceed.
 * A form or a simple cross-site fetch cannot set a custom header or a JSON content type
 * without a CORS preflight, which this server never grants.
 */
export function csrfRefusal(req: IncomingMessage, origin: string): string | null {
  if (SAFE_METHODS.has(req.method ?? 'GET')) return null;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && type !== 'application/connect+json') {
    return 'state-changing requests must send Content-Type: application/json (or application/connect+json for a stream)';
  }
  if (req.headers[CONSOLE_HEADER] !== '1') return `state-changing requests must send the header ${CONSOLE_HEADER}: 1`;
  const from = req.headers.origin;
  if (from !== undefined && from !== origin) return 'cross-origin request refused';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return 'cross-site request refused';
  return null;
}

function hostName(host: string): string {
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(host);
  return (m?.[1] ?? '').toLowerCase();
}

/** A console bound to loopback answers only requests addressed to a loopback name. */
export function hostAllowed(req: IncomingMessage, loopbackOnly: boolean): boolean {
  if (!loopbackOnly) return true;
  const name = hostName(req.headers.host ?? '');
  return name === 'localhost' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** The origin the browser sees for this request (scheme + Host header). */
export const originOf = (req: IncomingMessage, tls: boolean) => `${tls ? 'https' : 'http'}://${req.headers.host ?? ''}`;

/**
 * Every value sent under `name`: a browser sends several when another site on the same host
 * set one with a narrower path (cookies are not port-scoped), the most specific path first.
 */
export function cookies(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) out.push(part.slice(i + 1).trim());
  }
  return out;
}
