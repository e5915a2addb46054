/** The console's request guard and session store as units (no server). */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { csrfRefusal, hostAllowed, cookies } from '../../server/console/http-guard.js';
import { Sessions } from '../../server/console/sessions.js';

const req = (method: string, headers: Record<string, string>) => ({ method, headers }) as unknown as IncomingMessage;
const ORIGIN = 'http://127.0.0.1:8080';
const good = { 'content-type': 'application/json; charset=utf-8', 'x-sg-console': '1' };

describe('csrfRefusal', () => {
  it('lets safe methods through and same-origin JSON writes with the header', () => {
    expect(csrfRefusal(req('GET', {}), ORIGIN)).toBeNull();
    expect(csrfRefusal(req('POST', good), ORIGIN)).toBeNull();
    expect(csrfRefusal(req('POST', { ...good, origin: ORIGIN, 'sec-fetch-site': 'same-origin' }), ORIGIN)).toBeNull();
    expect(csrfRefusal(req('DELETE', good), ORIGIN)).toBeNull();
  });
  it.each([
    ['no content type', { 'x-sg-console': '1' }],
    ['text/plain', { ...good, 'content-type': 'text/plain' }],
    ['multipart', { ...good, 'content-type': 'multipart/form-data; boundary=x' }],
    ['no console header', { 'content-type': 'application/json' }],
    ['wrong console header', { ...good, 'x-sg-console': 'yes' }],
    ['foreign origin', { ...good, origin: 'http://evil.example' }],
    ['null origin', { ...good, origin: 'null' }],
    ['same host, other scheme', { ...good, origin: 'https://127.0.0.1:8080' }],
    ['cross-site fetch', { ...good, 'sec-fetch-site': 'cross-site' }],
    ['same-site fetch', { ...good, 'sec-fetch-site': 'same-site' }],
  ])('refuses a write with %s', (_name, headers) => {
    expect(csrfRefusal(req('POST', headers), ORIGIN)).not.toBeNull();
    expect(csrfRefusal(req('PUT', headers), ORIGIN)).not.toBeNull();
  });
});

describe('hostAllowed', () => {
  it('a loopback console answers loopback names only', () => {
    for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'LOCALHOST', '127.1.2.3']) expect(hostAllowed(req('GET', { host }), true), host).toBe(true);
    for (const host of ['evil.example:8080', '127.0.0.1.evil.example', '', 'localhost.evil:80']) expect(hostAllowed(req('GET', { host }), true), host).toBe(false);
    expect(hostAllowed(req('GET', { host: 'console.example' }), false)).toBe(true);
  });
});

describe('cookies', () => {
  it('finds a cookie by exact name', () => {
    expect(cookies(req('GET', { cookie: 'a=1; sg_session=abc; x_sg_session=no' }), 'sg_session')).toEqual(['abc']);
    expect(cookies(req('GET', { cookie: 'x_sg_session=no' }), 'sg_session')).toEqual([]);
  });
  it('lists every value sent under the name (a narrower-path cookie from another port comes first)', () => {
    expect(cookies(req('GET', { cookie: 'sg_session=tossed; a=1; sg_session=mine' }), 'sg_session')).toEqual(['tossed', 'mine']);
  });
});

describe('Sessions', () => {
  it('expire after the idle period, with the token, and beyond the bound oldest first', () => {
    let now = 1_000;
    const s = new Sessions(() => now, 100, 2);
    const a = s.create('tok-a', 0);
    now += 99;
    expect(s.token(a)).toBe('tok-a'); // touching resets the idle timer
    now += 99;
    expect(s.token(a)).toBe('tok-a');
    now += 101;
    expect(s.token(a)).toBeUndefined();

    const b = s.create('tok-b', now + 50);
    expect(s.token(b)).toBe('tok-b');
    now += 50;
    expect(s.token(b)).toBeUndefined(); // the token expired

    const c = s.create('c', 0);
    const d = s.create('d', 0);
    s.token(c); // c used last: d is now the least recently used
    const e = s.create('e', 0);
    expect(s.size).toBe(2);
    expect(s.token(d)).toBeUndefined();
    expect(s.token(c)).toBe('c');
    expect(s.token(e)).toBe('e');
  });

  it('one token holds a bounded number of sessions; others are not pushed out', () => {
    const s = new Sessions(Date.now, 60_000, 100, 3);
    const other = s.create('other', 0);
    const mine = Array.from({ length: 10 }, () => s.create('mine', 0));
    expect(s.size).toBe(4);
    expect(s.token(other)).toBe('other');
    expect(mine.filter((id) => s.token(id) === 'mine')).toEqual(mine.slice(-3));
  });

  it('a session is bound to its own binding secret only', () => {
    const s = new Sessions(Date.now, 60_000, 1000, 1000);
    const a = s.create('a', 0);
    const b = s.create('b', 0);
    const bindingA = s.binding(a)!;
    expect(bindingA).toMatch(/^[0-9a-f]{64}$/);
    expect(s.bound(a, bindingA)).toBe(true);
    expect(s.bound(b, bindingA)).toBe(false);
    expect(s.bound(a, undefined)).toBe(false);
    expect(s.bound(a, bindingA.slice(1))).toBe(false);
    s.delete(a);
    expect(s.bound(a, bindingA)).toBe(false);
  });

  it('ids are long and random; ending a session ends its streams', () => {
    const s = new Sessions(Date.now, 60_000, 1000, 1000);
    const ids = new Set(Array.from({ length: 100 }, () => s.create('t', 0)));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const id = [...ids][0]!;
    let ended = 0;
    s.onEnd(id, () => ended++);
    const unregister = s.onEnd(id, () => ended++);
    unregister();
    s.delete(id);
    expect(ended).toBe(1);
    expect(s.token(id)).toBeUndefined();
  });
});
