/**
 * Brute force: a peer that presents too many wrong tokens is refused for a while
 * (RESOURCE_EXHAUSTED), other peers are not affected. The throttle and peer identity are
 * tested as units with a fake clock; the integration cases use a server listening on
 * `localhost` (127.0.0.1 and ::1 on one port), so two different peer hosts can reach it.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, unary, type Clients } from '../../client/connection.js';
import { WatchRequest } from '../../gen/secretgroups/v1/resolver_service.js';
import { AuthThrottle, DEFAULT_THROTTLE, peerHost } from '../../server/security/auth-throttle.js';
import { api } from '../helpers/api.js';
import { codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';

describe('AuthThrottle (unit, fake clock)', () => {
  const make = () => {
    let now = 1_000_000;
    const th = new AuthThrottle(DEFAULT_THROTTLE, () => now);
    return { th, advance: (ms: number) => (now += ms) };
  };
  const { maxFailures, windowMs, lockoutMs } = DEFAULT_THROTTLE;

  it('uses the documented defaults: 20 failures in 60 s lock a peer out for 30 s', () => {
    expect(DEFAULT_THROTTLE).toEqual({ maxFailures: 20, windowMs: 60_000, lockoutMs: 30_000 });
  });

  it('locks a peer at the threshold, for the lockout time, without affecting other peers', () => {
    const { th, advance } = make();
    for (let i = 0; i < maxFailures - 1; i++) th.failure('10.0.0.1');
    expect(th.lockedFor('10.0.0.1')).toBe(0);
    th.failure('10.0.0.1');
    expect(th.lockedFor('10.0.0.1')).toBe(lockoutMs);
    expect(th.lockedFor('10.0.0.2')).toBe(0);
    advance(lockoutMs - 1);
    expect(th.lockedFor('10.0.0.1')).toBe(1);
    advance(1);
    expect(th.lockedFor('10.0.0.1')).toBe(0);
  });

  it('forgets failures older than the window', () => {
    const { th, advance } = make();
    for (let i = 0; i < maxFailures - 1; i++) th.failure('10.0.0.1');
    advance(windowMs + 1);
    th.failure('10.0.0.1');
    expect(th.lockedFor('10.0.0.1')).toBe(0);
  });

  it('has no way to clear the count but time: a valid token from the same host does not reset it', () => {
    const { th } = make();
    for (let i = 0; i < maxFailures - 1; i++) th.failure('10.0.0.1');
    expect('success' in th).toBe(false);
    th.failure('10.0.0.1');
    expect(th.lockedFor('10.0.0.1')).toBe(lockoutMs);
  });

  it('stays bounded in memory and fast under a spray of addresses, and keeps locked peers locked', () => {
    const { th } = make();
    for (let i = 0; i < maxFailures; i++) th.failure('10.9.9.9');
    const started = Date.now();
    for (let i = 0; i < 15_000; i++) th.failure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(Date.now() - started, 'each failure must stay O(1) amortised').toBeLessThan(2_000);
    expect((th as unknown as { peers: Map<string, unknown> }).peers.size).toBeLessThanOrEqual(10_001);
    // Spraying other addresses must not flush the attacker's own lockout.
    expect(th.lockedFor('10.9.9.9')).toBeGreaterThan(0);
  });
});

describe('peerHost (unit)', () => {
  it('drops the port, so one client reconnecting keeps its identity', () => {
    expect(peerHost('127.0.0.1:5555')).toBe('127.0.0.1');
    expect(peerHost('ipv4:10.1.2.3:443')).toBe('10.1.2.3');
    expect(peerHost('[::1]:5555')).toBe('::1');
    expect(peerHost('::1:5555')).toBe('::1'); // grpc-js: remoteAddress:remotePort, no brackets
    expect(peerHost('ipv6:[2001:db8::7]:443')).toBe('2001:db8:0:0::/64'); // IPv6 peers are keyed by /64
  });

  it('an IPv4 client is the same peer over IPv4 and over a dual-stack (IPv4-mapped) socket', () => {
    expect(peerHost('::ffff:10.1.2.3:5555')).toBe(peerHost('10.1.2.3:5555'));
  });

  it('an IPv6 client cannot escape the throttle by rotating addresses within its /64', () => {
    // Any host gets a whole /64; counting per /128 would let it try 2^64 addresses.
    expect(peerHost('2001:db8:1:2:aaaa::1:443')).toBe(peerHost('2001:db8:1:2:bbbb:cccc:dddd:2:443'));
    expect(peerHost('2001:db8:1:2::1:443')).not.toBe(peerHost('2001:db8:1:3::1:443'));
  });
});

describe('integration: lockout of one peer host, not of another', () => {
  let t: TestServer;
  let port: number;
  const opened: Clients[] = [];
  const client = (host: string, token: string) => {
    const c = connect({ addr: `${host}:${port}`, token });
    opened.push(c);
    return c;
  };
  const whoami = (c: Clients) => codeOf(unary(c.access, 'whoAmI', {}, { deadlineMs: 5_000 }));

  beforeAll(async () => {
    // A dual-stack listener: clients via 127.0.0.1 and via ::1 are two peer hosts on one machine.
    // (Binding every interface needs insecure; nothing but this test connects during it.)
    t = await startTestServer({ addr: '[::]:0', insecure: true });
    port = t.server.port;
  });
  afterAll(async () => {
    for (const c of opened) c.close();
    await t?.stop();
  });

  it('missing tokens are not counted as guesses', async () => {
    const none = client('127.0.0.1', '');
    for (let i = 0; i < DEFAULT_THROTTLE.maxFailures + 5; i++) expect(await whoami(none)).toBe('UNAUTHENTICATED');
    expect(await whoami(client('127.0.0.1', t.adminToken))).toBe('OK');
  });

  it('20 wrong tokens from 127.0.0.1 lock it out, even with a right token; ::1 keeps working', async () => {
    const wrong = client('127.0.0.1', 'sg_not-a-real-token');
    for (let i = 0; i < DEFAULT_THROTTLE.maxFailures; i++) expect(await whoami(wrong)).toBe('UNAUTHENTICATED');
    // Locked: even the admin token is refused from this address, with a clear message.
    const right = client('127.0.0.1', t.adminToken);
    const err = await unary(right.access, 'whoAmI', {}, { deadlineMs: 5_000 }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(err && grpc.status[err.code]).toBe('RESOURCE_EXHAUSTED');
    expect(err!.details).toMatch(/too many failed authentications from this address; retry in \d+ s/);
    expect(await whoami(wrong)).toBe('RESOURCE_EXHAUSTED');
    // Streams are throttled as well.
    const stream = await new Promise<string>((resolve) => {
      const s = right.resolver.watch(WatchRequest.fromPartial({ project: 'p', workload: 'w' }));
      s.on('error', (e: grpc.ServiceError) => resolve(grpc.status[e.code]!));
      s.on('data', () => resolve('DATA'));
    });
    expect(stream).toBe('RESOURCE_EXHAUSTED');

    // Another peer host is not affected: right token works, a wrong one is only UNAUTHENTICATED.
    expect(await whoami(client('[::1]', t.adminToken))).toBe('OK');
    expect(await whoami(client('[::1]', 'sg_not-a-real-token'))).toBe('UNAUTHENTICATED');
    expect(await whoami(client('[::1]', t.adminToken))).toBe('OK');
  });
});

describe('integration: a valid token interleaved with guesses does not reset the count', () => {
  let t: TestServer;
  const opened: Clients[] = [];
  afterAll(async () => {
    for (const c of opened) c.close();
    await t?.stop();
  });

  it('locks the host after 20 guesses even when every guess follows a successful call with a low-privilege token', async () => {
    t = await startTestServer();
    const created = await api(t.admin).createToken({ name: 'low', role: 'viewer' });
    const low = connect({ addr: t.server.addr, token: created.token });
    const wrong = connect({ addr: t.server.addr, token: 'sg_not-a-real-token' });
    opened.push(low, wrong);
    const whoami = (c: Clients) => codeOf(unary(c.access, 'whoAmI', {}, { deadlineMs: 5_000 }));
    for (let i = 0; i < DEFAULT_THROTTLE.maxFailures; i++) {
      expect(await whoami(low)).toBe('OK');
      expect(await whoami(wrong)).toBe('UNAUTHENTICATED');
    }
    expect(await whoami(wrong)).toBe('RESOURCE_EXHAUSTED');
    expect(await whoami(low)).toBe('RESOURCE_EXHAUSTED');
  });
});
