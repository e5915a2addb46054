/**
 * The protocol-independent handlers (server/api/call.ts), run with a plain CallContext and
 * StreamOut — no grpc-js, no HTTP: what both mounts rely on (authentication and the throttle
 * per peer, the audit hooks, the malformed-request refusal, error mapping without internal
 * messages, credentials dropped on streams, unsubscribe when the call ends, the fast path).
 */
import { describe, expect, it } from 'vitest';
import { Code } from '../../client/status-codes.js';
import { BAD_TEXT_REQUEST, MALFORMED_REQUEST, serverStream, unary, unaryFast, type ApiContext, type CallContext, type Stoppable, type StreamOut } from '../../server/api/call.js';
import type { StatusError } from '../../server/api/status.js';
import { DomainError } from '../../server/domain/errors.js';
import { createLogger } from '../../server/log.js';
import type { Authenticator } from '../../server/security/authenticator.js';
import { AuthThrottle } from '../../server/security/auth-throttle.js';
import type { Principal } from '../../server/security/principal.js';

const ALICE = { name: 'alice' } as unknown as Principal;

function context() {
  const events: string[] = [];
  const throttle = new AuthThrottle({ maxFailures: 2, windowMs: 60_000, lockoutMs: 30_000 });
  const auth = {
    cached: (h: string | undefined) => (h === 'Bearer cached' ? ALICE : undefined),
    authenticate: async (h: string | undefined) => {
      if (h === 'Bearer good' || h === 'Bearer cached') return ALICE;
      throw new DomainError('UNAUTHENTICATED', h ? 'unknown token' : 'missing token');
    },
  } as unknown as Authenticator;
  const ctx: ApiContext = {
    auth,
    throttle,
    log: createLogger('silent'),
    denied: (_p, method) => events.push(`denied ${method}`),
    unauthenticated: (peer, method, reason) => events.push(`unauthenticated ${peer} ${method} ${reason}`),
    observe: (method, code) => events.push(`observe ${method} ${code}`),
  };
  return { ctx, events, throttle };
}

interface TestCall extends CallContext {
  authorization: string | undefined;
  forgotten: boolean;
}

const callAs = (authorization: string | undefined, peer = '192.0.2.7'): TestCall => ({
  authorization,
  peer,
  forgotten: false,
  forget() {
    this.forgotten = true;
    this.authorization = undefined;
  },
});

const runUnary = <Req, Res>(h: ReturnType<typeof unary<Req, Res>>, call: CallContext, req: Req) =>
  new Promise<{ err: StatusError | null; res?: Res }>((resolve) => h.run(call, req, (err, res) => resolve({ err, res })));

describe('unary', () => {
  it('answers with the principal and the request, and observes OK', async () => {
    const { ctx, events } = context();
    const h = unary(ctx, 'Echo', async (p: Principal, req: { x: number }) => ({ who: (p as unknown as { name: string }).name, x: req.x }));
    expect(h.kind).toBe('unary');
    expect(await runUnary(h, callAs('Bearer good'), { x: 3 })).toEqual({ err: null, res: { who: 'alice', x: 3 } });
    expect(events).toEqual(['observe Echo OK']);
  });

  it('a wrong token is UNAUTHENTICATED, audited and counted for the peer; a missing one is not counted', async () => {
    const { ctx, events, throttle } = context();
    const h = unary(ctx, 'Echo', async () => ({}));
    const { err } = await runUnary(h, callAs('Bearer wrong'), {});
    expect(err).toMatchObject({ code: Code.UNAUTHENTICATED, details: 'unknown token' });
    expect(events).toContain('unauthenticated 192.0.2.7 Echo unknown token');
    await runUnary(h, callAs('Bearer wrong'), {});
    expect(throttle.lockedFor('192.0.2.7')).toBeGreaterThan(0);
    const locked = await runUnary(h, callAs('Bearer good'), {});
    expect(locked.err?.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect((await runUnary(h, callAs(undefined, '192.0.2.8'), {})).err?.code).toBe(Code.UNAUTHENTICATED);
    expect(throttle.lockedFor('192.0.2.8')).toBe(0);
  });

  it('malformed requests and bad text are INVALID_ARGUMENT before the handler runs', async () => {
    const { ctx } = context();
    let ran = false;
    const h = unary(ctx, 'Echo', async () => {
      ran = true;
      return {};
    });
    for (const req of [MALFORMED_REQUEST, BAD_TEXT_REQUEST.utf8, BAD_TEXT_REQUEST.nul]) expect((await runUnary(h, callAs('Bearer good'), req)).err?.code).toBe(Code.INVALID_ARGUMENT);
    expect(ran).toBe(false);
  });

  it('a refusal is audited; an internal error never shows its message', async () => {
    const { ctx, events } = context();
    const refused = unary(ctx, 'Refused', async () => {
      throw new DomainError('PERMISSION_DENIED', 'no');
    });
    expect((await runUnary(refused, callAs('Bearer good'), {})).err).toMatchObject({ code: Code.PERMISSION_DENIED, details: 'no' });
    expect(events).toContain('denied Refused');
    const broken = unary(ctx, 'Broken', async () => {
      throw new Error('the value s3cret leaked into an exception');
    });
    const { err } = await runUnary(broken, callAs('Bearer good'), {});
    expect(err?.code).toBe(Code.INTERNAL);
    expect(err?.details).toMatch(/^internal error \(request [0-9a-f]{12}\)$/);
  });

  it('the fast path answers in the same turn with a cached token, and declines when the peer is locked out', () => {
    const { ctx, throttle } = context();
    const h = unaryFast(
      ctx,
      'Fast',
      (_p, req: { x: number }) => ({ fast: req.x }),
      async () => ({ fast: -1 }),
    );
    expect(h.fast!('Bearer cached', '192.0.2.9', { x: 1 })).toEqual({ fast: 1 });
    expect(h.fast!('Bearer good', '192.0.2.9', { x: 1 })).toBeUndefined(); // not cached: run() takes it
    expect(h.fast!('Bearer cached', '192.0.2.9', MALFORMED_REQUEST as never)).toBeUndefined();
    throttle.failure('192.0.2.9');
    throttle.failure('192.0.2.9');
    expect(h.fast!('Bearer cached', '192.0.2.9', { x: 1 })).toBeUndefined();
  });
});

/** A StreamOut that records what the handler does with it. */
function recorder() {
  const log: string[] = [];
  const closes: Stoppable[] = [];
  const out: StreamOut<string> = {
    write: (m) => (log.push(`write ${m}`), true),
    onDrain: () => undefined,
    end: () => void log.push('end'),
    error: (s) => void log.push(`error ${s.code} ${s.details}`),
    onClose: (sub) => void closes.push(sub),
  };
  return { out, log, close: () => closes.forEach((sub) => sub.stop()) };
}

describe('serverStream', () => {
  it('authenticates, drops the credentials, subscribes; the end of the call unsubscribes', async () => {
    const { ctx } = context();
    const subscribed: string[] = [];
    let unsubscribed = 0;
    const h = serverStream(ctx, 'Follow', async (_p, req: { topic: string }, stream) => {
      subscribed.push(req.topic);
      stream.write('first');
      return () => unsubscribed++;
    });
    const call = callAs('Bearer good');
    const { out, log, close } = recorder();
    h.run(call, { topic: 't' }, out);
    await expect.poll(() => subscribed).toEqual(['t']);
    expect(call.forgotten).toBe(true);
    expect(call.authorization).toBeUndefined();
    expect(log).toEqual(['write first']);
    close();
    expect(unsubscribed).toBe(1);
  });

  it("a refused stream fails with the status and is audited; close() sends the guard's verdict", async () => {
    const { ctx, events } = context();
    const refused = serverStream(
      ctx,
      'Follow',
      async () => {
        throw new DomainError('PERMISSION_DENIED', 'not yours');
      },
      { auditRefused: true },
    );
    const a = recorder();
    refused.run(callAs('Bearer good'), {}, a.out);
    await expect.poll(() => a.log).toEqual([`error ${Code.PERMISSION_DENIED} not yours`]);
    expect(events).toContain('denied Follow');

    let verdict: ((code: 'UNAUTHENTICATED', message: string) => void) | undefined;
    let unsubscribed = 0;
    const guarded = serverStream(ctx, 'Follow', async (_p, _req, stream) => {
      verdict = (code, message) => stream.close(code, message);
      return () => unsubscribed++;
    });
    const b = recorder();
    guarded.run(callAs('Bearer good'), {}, b.out);
    await expect.poll(() => verdict).toBeDefined();
    verdict!('UNAUTHENTICATED', 'token revoked');
    expect(b.log).toEqual([`error ${Code.UNAUTHENTICATED} token revoked`]);
    expect(unsubscribed).toBe(1);
  });

  it('names one request id per stream, made when first needed: in a failure and its log line, and in the debug line of a subscription', async () => {
    const lines: Record<string, unknown>[] = [];
    const record = (o: Record<string, unknown>) => void lines.push(o);
    const log = { isLevelEnabled: () => true, debug: record, info: record, error: record } as unknown as ApiContext['log'];
    const ctx = { ...context().ctx, log };
    const a = recorder();
    serverStream(ctx, 'Follow', async () => {
      throw new Error('boom');
    }).run(callAs('Bearer good'), {}, a.out);
    await expect.poll(() => a.log.length).toBe(1);
    const id = /\(request (\S+)\)$/.exec(a.log[0]!)?.[1];
    expect(a.log[0]).toMatch(new RegExp(`^error ${Code.INTERNAL} internal error`));
    expect(lines).toEqual([expect.objectContaining({ method: 'Follow', code: 'INTERNAL', requestId: id })]);

    serverStream(ctx, 'Follow', async () => () => undefined).run(callAs('Bearer good'), {}, recorder().out);
    await expect.poll(() => lines.length).toBe(2);
    expect(lines[1]).toMatchObject({ method: 'Follow', code: 'OK', requestId: expect.any(String) });
    expect(lines[1]!.requestId).not.toBe(id);
  });
});
