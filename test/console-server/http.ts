/**
 * A tiny console client for server-side tests: fetch with the console's headers, a cookie jar,
 * and the session binding a sign-in answers (sent as X-SG-Session, as the page does).
 */
import * as http from 'node:http';

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class ConsoleClient {
  cookie = '';
  binding = '';

  constructor(readonly base: string) {}

  /** A same-origin POST/DELETE as the UI sends it. */
  async send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(new URL(path, this.base), {
      method,
      headers: {
        'content-type': 'application/json',
        'x-sg-console': '1',
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(this.binding ? { 'x-sg-session': this.binding } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const pair = setCookie.split(';')[0]!;
      this.cookie = pair.endsWith('=') ? '' : pair;
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (path === '/session' && method === 'POST' && res.ok) this.binding = (json as { binding?: string }).binding ?? '';
    return { status: res.status, headers: res.headers, body: text, json };
  }

  get(path: string): Promise<Answer> {
    return this.send('GET', path);
  }

  signIn(token: string): Promise<Answer> {
    return this.send('POST', '/session', { token });
  }

  rpc(method: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<Answer> {
    return this.send('POST', `/rpc/secretgroups.v1.${method}`, body, headers);
  }
}

/** A raw request with a chosen Host header (fetch cannot set it). */
export function rawGet(base: string, path: string, host: string): Promise<number> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'GET', headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The Connect protocol's envelope of one streaming request message (flags 0, JSON). */
export function envelope(message: unknown): Uint8Array<ArrayBuffer> {
  const json = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(json.byteLength, 1);
  return new Uint8Array(Buffer.concat([head, json]));
}

/** Opens a server stream as the page does: POST application/connect+json, one enveloped request. */
export function openStream(c: ConsoleClient, method: string, body: unknown, signal: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL(`/rpc/secretgroups.v1.${method}`, c.base), {
    method: 'POST',
    headers: { 'content-type': 'application/connect+json', 'x-sg-console': '1', 'x-sg-session': c.binding, cookie: c.cookie, ...headers },
    body: envelope(body),
    signal,
  });
}

/**
 * A stream's messages: `{ message }` for each data envelope, then `{ end }` with the end-stream
 * message (`{}` or `{ error: { code, message } }`).
 */
export async function* envelopes(res: Response): AsyncGenerator<{ message?: any; end?: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const reader = res.body!.getReader();
  let buf = Buffer.alloc(0);
  for (;;) {
    while (buf.byteLength >= 5 && buf.byteLength >= 5 + buf.readUInt32BE(1)) {
      const size = buf.readUInt32BE(1);
      const json = JSON.parse(buf.subarray(5, 5 + size).toString('utf8'));
      const flags = buf[0]!;
      buf = buf.subarray(5 + size);
      yield flags & 0x02 ? { end: json } : { message: json };
    }
    const { value, done } = await reader.read();
    if (done) return;
    buf = Buffer.concat([buf, Buffer.from(value)]);
  }
}
