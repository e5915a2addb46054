/**
 * Server streams and unary hot paths on node:http2 (server/api/h2-streams.ts): a real grpc-js
 * server with the hook and a real grpc-js client. The plain form of a call is served by the
 * route's handler, not by the grpc-js implementation registered for the same path; compressed
 * requests and deadlines go to grpc-js; messages, statuses, limits, cancellation and the
 * caller's credentials behave as gRPC says.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Code } from '../../client/status-codes.js';
import type { ApiContext, CallContext, Done, ServerStreamHandler, StreamOut, UnaryHandler } from '../../server/api/call.js';
import { encodeFramed } from '../../server/api/framed-bytes.js';
import { serveStreamsOnHttp2, shareSentHeaders, type StreamRoute } from '../../server/api/h2-streams.js';
import { createGrpcServer, serviceHandlers, streamRoutes, type Services } from '../../server/api/server.js';
import { StatusError } from '../../server/api/status.js';

const PATH = '/t.T/Many';
const ONE = '/t.T/One';
const bytes = (b: Buffer) => b;
const definition: grpc.ServiceDefinition = {
  many: { path: PATH, requestStream: false, responseStream: true, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: (v: unknown) => Buffer.from(String(v)), responseDeserialize: bytes },
  one: { path: ONE, requestStream: false, responseStream: false, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: (v: unknown) => Buffer.from(String(v)), responseDeserialize: bytes },
};

/** A message its encoder throws on, with a message that must not reach the client. */
const UNENCODABLE = { toString: (): string => { throw new Error('value sk_live_123') } };

/** What the route's handler saw of its last call, and how it answers (by the request's text). */
let seen: { authorization?: string; peer?: string; request?: string; closed: boolean; afterForget?: string; secondOnClose?: string } = { closed: false };
let open: StreamOut<unknown> | undefined;
const handler: ServerStreamHandler<unknown, unknown> = {
  kind: 'serverStream',
  method: 'Many',
  run(call: CallContext, req: unknown, out: StreamOut<unknown>) {
    const request = (req as Buffer).toString();
    seen = { authorization: call.authorization, peer: call.peer, request, closed: false };
    call.forget();
    seen.afterForget = call.authorization;
    out.onClose({ stop: () => (seen.closed = true) });
    open = out;
    if (request === 'two') {
      out.write('one');
      out.write(encodeFramed((w) => w.raw(Buffer.from('framed'))), () => undefined);
      out.end();
    } else if (request === 'refuse') out.error(new StatusError(Code.PERMISSION_DENIED, 'no: naïve'));
    else if (request === 'refuse-later') {
      out.write('first');
      out.error(new StatusError(Code.NOT_FOUND, 'gone'));
    } else if (request === 'huge') out.write('x'.repeat(2000));
    else if (request === 'unencodable') {
      out.write('first');
      out.write(UNENCODABLE);
      out.write('never');
    }
    else if (request === 'close-twice') {
      try {
        out.onClose({ stop: () => undefined });
      } catch (e) {
        seen.secondOnClose = (e as Error).message;
      }
      out.end();
    }
    // 'hold': stays open until the client cancels
  },
};
const route: StreamRoute = { handler, decode: (b) => b, encode: (v) => Buffer.from(String(v)) };

/** What the unary route's two paths saw; `fast` answers requests starting with "fast". */
let unarySeen: { fast: string[]; slow: string[]; authorization?: string; peer?: string } = { fast: [], slow: [] };
/** Set by a test: how many responses the server's streams have begun, read at each hot-path call. */
let responsesBegun: (() => number) | undefined;
const begunAtFast: number[] = [];
const unaryHandler: UnaryHandler<unknown, unknown> = {
  kind: 'unary',
  method: 'One',
  fast(authorization, peer, req) {
    const request = (req as Buffer).toString();
    unarySeen.fast.push(request);
    if (responsesBegun) begunAtFast.push(responsesBegun());
    Object.assign(unarySeen, { authorization, peer });
    if (request === 'fast-framed') return encodeFramed((w) => w.raw(Buffer.from('framed answer')));
    if (request === 'fast-unencodable') return UNENCODABLE;
    return request.startsWith('fast') ? `fast:${request}` : undefined;
  },
  run(call: CallContext, req: unknown, done: Done<unknown>) {
    const request = (req as Buffer).toString();
    unarySeen.slow.push(request);
    if (request === 'refuse') done(new StatusError(Code.PERMISSION_DENIED, 'no: naïve'));
    else if (request === 'huge') done(null, 'x'.repeat(2000));
    else setTimeout(() => done(null, `slow:${request}:${call.peer}`), 5);
  },
};
const unaryRoute: StreamRoute = { handler: unaryHandler, decode: (b) => b, encode: (v) => Buffer.from(String(v)) };

// Channelz off, as the server runs (with it on, grpc-js listens through another handler: left alone).
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
let client: grpc.Client;
let hooked = false;

beforeAll(async () => {
  server.addService(definition, {
    // What grpc-js itself serves for the same path: only calls the hook leaves to it get here.
    many: (call: grpc.ServerWritableStream<Buffer, unknown>) => {
      call.write(`grpc-js:${call.request.toString()}`);
      call.end();
    },
    one: (call: grpc.ServerUnaryCall<Buffer, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, `grpc-js:${call.request.toString()}`),
  });
  hooked = serveStreamsOnHttp2(
    server,
    new Map([
      [PATH, route],
      [ONE, unaryRoute],
    ]),
    { maxRequestBytes: 1000, maxResponseBytes: 1000 },
  );
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 });
});
afterAll(() => {
  client.close();
  server.forceShutdown();
});
afterEach(() => {
  open = undefined;
});

function call(request: string | Buffer, opts: { metadata?: grpc.Metadata; options?: grpc.CallOptions } = {}) {
  const messages: string[] = [];
  const stream = client.makeServerStreamRequest(PATH, bytes, bytes, Buffer.from(request), opts.metadata ?? new grpc.Metadata(), opts.options ?? {});
  const done = new Promise<{ messages: string[]; status: grpc.StatusObject }>((resolve) => {
    stream.on('data', (b: Buffer) => messages.push(b.toString()));
    stream.on('error', () => undefined);
    stream.on('status', (status: grpc.StatusObject) => resolve({ messages, status }));
  });
  return { stream, done };
}

/** Node's ServerHttp2Stream.prototype (not exported), from a stream of a throwaway server. */
async function serverStreamPrototype(): Promise<http2.ServerHttp2Stream> {
  const h2 = http2.createServer();
  const proto = new Promise<http2.ServerHttp2Stream>((ok) =>
    h2.on('stream', (stream) => {
      ok(Object.getPrototypeOf(stream) as http2.ServerHttp2Stream);
      stream.respond({ ':status': 200 }, { endStream: true });
    }),
  );
  await new Promise<void>((ok) => h2.listen(0, '127.0.0.1', ok));
  const session = http2.connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
  session.request({ ':path': '/' }).end();
  try {
    return await proto;
  } finally {
    session.close();
    h2.close();
  }
}

/** One uncompressed gRPC message with its 5-byte prefix, for requests written by hand. */
function frame(text: string): Buffer {
  const b = Buffer.from(text);
  const f = Buffer.alloc(5 + b.length);
  f.writeUInt32BE(b.length, 1);
  b.copy(f, 5);
  return f;
}

/** One unary call through the grpc-js client: its answer (or none) and status. */
function unary(request: string, opts: { metadata?: grpc.Metadata; options?: grpc.CallOptions } = {}): Promise<{ answer?: string; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    let answer: string | undefined;
    const c = client.makeUnaryRequest(ONE, bytes, bytes, Buffer.from(request), opts.metadata ?? new grpc.Metadata(), opts.options ?? {}, (_err, res) => {
      answer = res?.toString();
    });
    c.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ answer, status })));
  });
}

describe('served on node:http2', () => {
  it('is in place on this grpc-js, and not on a server with channelz on', () => {
    expect(hooked).toBe(true);
    const withChannelz = new grpc.Server();
    expect(serveStreamsOnHttp2(withChannelz, new Map([[PATH, route]]), { maxRequestBytes: 1000, maxResponseBytes: 1000 })).toBe(false);
  });

  it('runs the route, sends its messages (framed bytes as they are) and an OK status', async () => {
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer sg_test');
    const { messages, status } = await call('two', { metadata: md }).done;
    expect(messages).toEqual(['one', 'framed']);
    expect(status).toMatchObject({ code: grpc.status.OK, details: 'OK' });
    expect(seen).toMatchObject({ authorization: 'Bearer sg_test', peer: '127.0.0.1', request: 'two', afterForget: undefined });
  });

  it('sends a refusal before any message as a trailers-only response, its message as sent', async () => {
    const { messages, status } = await call('refuse').done;
    expect(messages).toEqual([]);
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toBe('no: naïve');
  });

  it('sends a failure after messages in the trailers', async () => {
    const { messages, status } = await call('refuse-later').done;
    expect(messages).toEqual(['first']);
    expect(status).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'gone' });
  });

  it('refuses a request over the limit and a response over the limit with RESOURCE_EXHAUSTED', async () => {
    const big = await call('a'.repeat(1001)).done;
    expect(big.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(big.status.details).toMatch(/Received message larger than max \(1001 vs\. 1000\)/);
    const huge = await call('huge').done;
    expect(huge.messages).toEqual([]);
    expect(huge.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it("ends the call with INTERNAL at a message that cannot be encoded, its encoder's message kept back", async () => {
    const { messages, status } = await call('unencodable').done;
    expect(messages).toEqual(['first']);
    expect(status).toMatchObject({ code: grpc.status.INTERNAL, details: 'Error serializing response' });
  });

  it("runs the handler's close function when the client cancels; later writes are dropped", async () => {
    const { stream, done } = call('hold');
    await expect.poll(() => open).toBeDefined();
    stream.cancel();
    const { status } = await done;
    expect(status.code).toBe(grpc.status.CANCELLED);
    await expect.poll(() => seen.closed).toBe(true);
    let written = false;
    expect(open!.write('late', () => (written = true))).toBe(true);
    expect(written).toBe(true);
  });

  it('takes one close function per call: a second is refused, and the first still runs', async () => {
    const { done } = call('close-twice');
    expect((await done).status.code).toBe(grpc.status.OK);
    expect(seen.secondOnClose).toBe('onClose is called once per call');
    await expect.poll(() => seen.closed).toBe(true);
  });
});

describe('a unary method with a hot path, served on node:http2', () => {
  it("answers from the hot path in the call's turn, with the caller's credentials and peer, and OK as grpc-js words it", async () => {
    unarySeen = { fast: [], slow: [] };
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer sg_test');
    expect(await unary('fast-1', { metadata: md })).toMatchObject({ answer: 'fast:fast-1', status: { code: grpc.status.OK, details: 'OK' } });
    expect(unarySeen).toMatchObject({ fast: ['fast-1'], slow: [], authorization: 'Bearer sg_test', peer: '127.0.0.1' });
    expect((await unary('fast-framed')).answer).toBe('framed answer');
  });

  it("writes a turn's answers at its end, after every hot-path call of the turn, each to its own call; one that cannot be encoded fails alone", async () => {
    unarySeen = { fast: [], slow: [] };
    begunAtFast.length = 0;
    const respond = vi.spyOn(await serverStreamPrototype(), 'respond');
    responsesBegun = () => respond.mock.calls.length;
    const session = http2.connect(`http://${client.getChannel().getTarget().replace(/^dns:/, '')}`);
    try {
      // Requested in one tick: one write from this client, one read on the server, one turn.
      const results = ['fast-a', 'fast-unencodable', 'fast-b', 'fast-cancelled'].map((text) => {
        const req = session.request({ ':method': 'POST', ':path': ONE, 'content-type': 'application/grpc', te: 'trailers' });
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('error', () => undefined);
        const done = new Promise<{ answer: string; status?: string; message?: string }>((resolve) => {
          let t: http2.IncomingHttpHeaders = {};
          req.on('response', (h) => h['grpc-status'] !== undefined && (t = h));
          req.on('trailers', (h) => (t = h));
          req.on('close', () => resolve({ answer: Buffer.concat(chunks).subarray(5).toString(), status: t['grpc-status'] as string | undefined, message: t['grpc-message'] as string | undefined }));
        });
        req.end(frame(text));
        // Cancelled in the same turn as its request: its answer is worked out, then not written.
        if (text === 'fast-cancelled') req.close(http2.constants.NGHTTP2_CANCEL);
        return done;
      });
      const [a, bad, b, cancelled] = await Promise.all(results);
      expect(a).toEqual({ answer: 'fast:fast-a', status: '0', message: 'OK' });
      expect(bad).toEqual({ answer: '', status: String(grpc.status.INTERNAL), message: encodeURI('Error serializing response') });
      expect(b).toEqual({ answer: 'fast:fast-b', status: '0', message: 'OK' });
      expect(cancelled).toEqual({ answer: '', status: undefined, message: undefined });
      expect(unarySeen.fast.slice(0, 3)).toEqual(['fast-a', 'fast-unencodable', 'fast-b']);
      // No answer had begun when the turn's last hot-path call ran: none was written inside the read.
      expect(begunAtFast).toHaveLength(4);
      expect(new Set(begunAtFast).size).toBe(1);
      // The server goes on answering.
      expect((await unary('fast-after')).answer).toBe('fast:fast-after');
    } finally {
      responsesBegun = undefined;
      respond.mockRestore();
      session.close();
    }
  });

  it('takes the ordinary path when the hot path cannot answer', async () => {
    unarySeen = { fast: [], slow: [] };
    expect(await unary('later')).toMatchObject({ answer: 'slow:later:127.0.0.1', status: { code: grpc.status.OK } });
    expect(unarySeen).toMatchObject({ fast: ['later'], slow: ['later'] });
  });

  it('sends a refusal as a trailers-only response, its message as sent; a response over the limit: RESOURCE_EXHAUSTED', async () => {
    expect(await unary('refuse')).toMatchObject({ answer: undefined, status: { code: grpc.status.PERMISSION_DENIED, details: 'no: naïve' } });
    const huge = await unary('huge');
    expect(huge.answer).toBeUndefined();
    expect(huge.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const big = await unary('a'.repeat(1001));
    expect(big.status).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/Received message larger than max \(1001 vs\. 1000\)/) });
  });

  it('answers as soon as the one message is in, without holding it for the half-close; a second message is dropped', async () => {
    unarySeen = { fast: [], slow: [] };
    const session = http2.connect(`http://${client.getChannel().getTarget().replace(/^dns:/, '')}`);
    try {
      const req = session.request({ ':method': 'POST', ':path': ONE, 'content-type': 'application/grpc', te: 'trailers' });
      const chunks: Buffer[] = [];
      let status: unknown;
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('trailers', (t) => (status = t['grpc-status']));
      req.write(frame('fast-2'));
      // Answered with the stream still open from the client's side.
      await vi.waitFor(() => expect(status).toBe('0'), { timeout: 5_000 });
      expect(unarySeen.fast).toEqual(['fast-2']);
      expect(Buffer.concat(chunks).subarray(5).toString()).toBe('fast:fast-2');
      const closed = new Promise((r) => req.on('close', r));
      req.end(frame('fast-again'));
      await closed;
      expect(unarySeen.fast).toEqual(['fast-2']);
    } finally {
      session.close();
    }
  });

  it('leaves a call with a deadline to grpc-js', async () => {
    expect((await unary('fast-3', { options: { deadline: Date.now() + 10_000 } })).answer).toBe('grpc-js:fast-3');
  });
});

it("the server's Watch, WatchProject and Resolve are served so", () => {
  const handlers = serviceHandlers({} as ApiContext, {} as Services);
  expect([...streamRoutes(handlers).keys()].sort()).toEqual([
    '/secretgroups.v1.ProjectService/WatchProject',
    '/secretgroups.v1.ResolverService/Resolve',
    '/secretgroups.v1.ResolverService/Watch',
  ]);
  const { server: s, streamsOnHttp2 } = createGrpcServer({} as ApiContext, {} as Services, handlers);
  expect(streamsOnHttp2).toBe(true);
  s.forceShutdown();
});

describe("Node's copy of the response headers", () => {
  it('is one shared, frozen object for every stream once sent', async () => {
    const server = http2.createServer();
    const seen: http2.ServerHttp2Stream[] = [];
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto' }, { waitForTrailers: true });
      shareSentHeaders(stream);
      seen.push(stream);
      stream.end();
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      for (let i = 0; i < 2; i++) {
        const req = client.request({ ':path': '/x', 'content-type': 'application/grpc' });
        req.end();
        req.resume();
        await new Promise((r) => req.on('close', r));
      }
      expect(seen).toHaveLength(2);
      expect(seen[0]!.sentHeaders).toBe(seen[1]!.sentHeaders);
      expect(Object.isFrozen(seen[0]!.sentHeaders)).toBe(true);
      expect(seen[0]!.sentHeaders).toMatchObject({ ':status': 200, 'content-type': 'application/grpc+proto' });
    } finally {
      client.close();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('requests that are not one message', () => {
  /** The gRPC status a raw HTTP/2 request gets (from trailers or a trailers-only answer). */
  async function rawStatus(body: Buffer | undefined): Promise<{ status: string | undefined; message: string | undefined }> {
    const session = http2.connect(`http://${client.getChannel().getTarget().replace(/^dns:/, '')}`);
    try {
      return await new Promise((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' }, { endStream: body === undefined });
        let headers: Record<string, unknown> = {};
        req.on('response', (h) => (headers = h));
        req.on('trailers', (t) => (headers = { ...headers, ...t }));
        req.on('data', () => undefined);
        req.on('end', () => resolve({ status: headers['grpc-status'] as string | undefined, message: headers['grpc-message'] === undefined ? undefined : decodeURIComponent(String(headers['grpc-message'])) }));
        req.on('error', reject);
        if (body !== undefined) req.end(body);
      });
    } finally {
      session.close();
    }
  }
  it('none: UNIMPLEMENTED, as grpc-js answers', async () => {
    expect(await rawStatus(undefined)).toMatchObject({ status: String(grpc.status.UNIMPLEMENTED), message: expect.stringMatching(/No message received/) });
  });

  it('two: UNIMPLEMENTED, and the handler never runs', async () => {
    seen = { closed: false };
    expect(await rawStatus(Buffer.concat([frame('two'), frame('two')]))).toMatchObject({ status: String(grpc.status.UNIMPLEMENTED), message: expect.stringMatching(/second request message/) });
    expect(seen.request).toBeUndefined();
  });

  it('a message flagged compressed without a grpc-encoding: INTERNAL', async () => {
    const f = frame('two');
    f[0] = 1;
    expect((await rawStatus(f)).status).toBe(String(grpc.status.INTERNAL));
  });

  it('one sent a byte per DATA frame: read whole, and not joined again for every byte', async () => {
    const text = 'y'.repeat(300);
    const concat = vi.spyOn(Buffer, 'concat');
    const session = http2.connect(`http://${client.getChannel().getTarget().replace(/^dns:/, '')}`);
    try {
      seen = { closed: false };
      const req = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => undefined);
      const f = frame(text);
      for (let i = 0; i < f.length; i++) await new Promise<void>((r) => req.write(f.subarray(i, i + 1), () => r()));
      await vi.waitFor(() => expect(seen.request).toBe(text), { timeout: 5_000 });
      // The first 5 bytes (the prefix) may be joined once; the message is copied into place.
      expect(concat.mock.calls.length).toBeLessThanOrEqual(1);
      req.close();
    } finally {
      concat.mockRestore();
      session.close();
    }
  });

  it('one, split over several DATA frames: served', async () => {
    const session = http2.connect(`http://${client.getChannel().getTarget().replace(/^dns:/, '')}`);
    try {
      const got = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
        req.on('error', reject);
        const f = frame('two');
        req.write(f.subarray(0, 2));
        setTimeout(() => req.write(f.subarray(2, 6)), 20);
        setTimeout(() => req.end(f.subarray(6)), 40);
      });
      expect(got).toContain('one');
      expect(got).toContain('framed');
    } finally {
      session.close();
    }
  });
});

describe('left to grpc-js', () => {
  it('a call with a deadline', async () => {
    const { messages, status } = await call('two', { options: { deadline: Date.now() + 10_000 } }).done;
    expect(messages).toEqual(['grpc-js:two']);
    expect(status.code).toBe(grpc.status.OK);
  });

  it('a compressed request', async () => {
    const gz = new grpc.Client(client.getChannel().getTarget().replace(/^dns:/, ''), grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      const messages: string[] = [];
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        const s = gz.makeServerStreamRequest(PATH, bytes, bytes, Buffer.from('two'), new grpc.Metadata(), {});
        s.on('data', (b: Buffer) => messages.push(b.toString()));
        s.on('error', () => undefined);
        s.on('status', resolve);
      });
      expect(status.code).toBe(grpc.status.OK);
      expect(messages).toEqual(['grpc-js:two']);
    } finally {
      gz.close();
    }
  });

  it('another content type (grpc-js answers 415 as before)', async () => {
    const session = http2.connect(`http://${client.getChannel().getTarget().replace(/^dns:/, '')}`);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'text/plain' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.end('x');
      });
      expect(status).toBe(415);
    } finally {
      session.close();
    }
  });
});

describe('on the real server', () => {
  it('answers Resolve on node:http2 with the bytes grpc-js sends (a deadline takes grpc-js), refusals alike', async () => {
    const { startTestServer, call: unaryCall } = await import('../helpers/in-process.js');
    const { ResolveRequest } = await import('../../gen/secretgroups/v1/resolver_service.js');
    const { CreateProjectRequest, CreateWorkloadRequest } = await import('../../gen/secretgroups/v1/project_service.js');
    const { CreateGroupRequest } = await import('../../gen/secretgroups/v1/secret_group_service.js');
    const t = await startTestServer();
    const raw = new grpc.Client(t.server.addr, grpc.credentials.createInsecure());
    const resolve = (req: Buffer, token: string | undefined, deadline?: number) =>
      new Promise<{ bytes?: Buffer; status: grpc.StatusObject }>((done) => {
        const md = new grpc.Metadata();
        if (token) md.set('authorization', `Bearer ${token}`);
        let bytes: Buffer | undefined;
        const c = raw.makeUnaryRequest('/secretgroups.v1.ResolverService/Resolve', (b: Buffer) => b, (b: Buffer) => b, req, md, deadline ? { deadline } : {}, (_e, res) => (bytes = res));
        c.on('status', (status: grpc.StatusObject) => setImmediate(() => done({ bytes, status })));
      });
    try {
      await unaryCall(t.admin.projects, 'createProject', CreateProjectRequest.fromPartial({ name: 'p' }));
      await unaryCall(t.admin.projects, 'createWorkload', CreateWorkloadRequest.fromPartial({ project: 'p', name: 'w', runtimeVariables: { OWN: 'x' } }));
      await unaryCall(t.admin.groups, 'createGroup', CreateGroupRequest.fromPartial({ project: 'p', name: 'g', variables: { A: '1', B: 'two' } }));
      const req = Buffer.from(ResolveRequest.encode({ project: 'p', workload: 'w', scope: 1, tags: [] }).finish());
      const viaH2 = await resolve(req, t.adminToken);
      const viaGrpcJs = await resolve(req, t.adminToken, Date.now() + 10_000);
      expect(viaH2.status).toMatchObject({ code: grpc.status.OK, details: 'OK' });
      expect(viaGrpcJs.status).toMatchObject({ code: grpc.status.OK, details: 'OK' });
      expect(viaH2.bytes!.length).toBeGreaterThan(0);
      expect(viaH2.bytes!.equals(viaGrpcJs.bytes!)).toBe(true);
      // Again from the cache (the hot path) and once more through grpc-js: still the same bytes.
      expect((await resolve(req, t.adminToken)).bytes!.equals(viaGrpcJs.bytes!)).toBe(true);
      for (const token of [undefined, 'sg_not-a-token']) {
        const a = await resolve(req, token);
        const b = await resolve(req, token, Date.now() + 10_000);
        expect(a.status.code).toBe(grpc.status.UNAUTHENTICATED);
        expect({ code: a.status.code, details: a.status.details.replace(/ \(request [0-9a-f]+\)/, '') }).toEqual({ code: b.status.code, details: b.status.details.replace(/ \(request [0-9a-f]+\)/, '') });
      }
      const missing = Buffer.from(ResolveRequest.encode({ project: 'p', workload: 'nope', scope: 1, tags: [] }).finish());
      const [a, b] = [await resolve(missing, t.adminToken), await resolve(missing, t.adminToken, Date.now() + 10_000)];
      expect(a.status.code).toBe(grpc.status.NOT_FOUND);
      expect(a.status.details.replace(/ \(request [0-9a-f]+\)/, '')).toBe(b.status.details.replace(/ \(request [0-9a-f]+\)/, ''));
      expect((await resolve(Buffer.from([0xff, 0xff]), t.adminToken)).status.code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      raw.close();
      await t.stop();
    }
  });

  it('refuses an unauthenticated Watch as before, and one over STREAM_REQUEST_BYTES before reading it whole', async () => {
    const { startTestServer, call: unaryCall } = await import('../helpers/in-process.js');
    const { STREAM_REQUEST_BYTES } = await import('../../server/api/server.js');
    const { WatchRequest } = await import('../../gen/secretgroups/v1/resolver_service.js');
    const t = await startTestServer();
    const raw = new grpc.Client(t.server.addr, grpc.credentials.createInsecure());
    const watch = (req: Buffer, token?: string) =>
      new Promise<grpc.StatusObject>((resolve) => {
        const md = new grpc.Metadata();
        if (token) md.set('authorization', `Bearer ${token}`);
        const s = raw.makeServerStreamRequest('/secretgroups.v1.ResolverService/Watch', bytes, bytes, req, md, {});
        s.on('data', () => undefined);
        s.on('error', () => undefined);
        s.on('status', resolve);
      });
    try {
      const valid = Buffer.from(WatchRequest.encode({ project: 'p', workload: 'w', scope: 1, etag: '', tags: [], deltas: false }).finish());
      expect((await watch(valid)).code).toBe(grpc.status.UNAUTHENTICATED);
      expect((await watch(valid, t.adminToken)).code).toBe(grpc.status.NOT_FOUND);
      const { CreateProjectRequest, CreateWorkloadRequest } = await import('../../gen/secretgroups/v1/project_service.js');
      await unaryCall(t.admin.projects, 'createProject', CreateProjectRequest.fromPartial({ name: 'p' }));
      await unaryCall(t.admin.projects, 'createWorkload', CreateWorkloadRequest.fromPartial({ project: 'p', name: 'w' }));
      // Too many claimed tags is the domain's refusal (a valid size), not the size limit's.
      const tags = Array.from({ length: 65 }, (_, i) => `t${i}`.padEnd(63, 'x'));
      const many = Buffer.from(WatchRequest.encode({ project: 'p', workload: 'w', scope: 1, etag: '', tags, deltas: false }).finish());
      expect(many.length).toBeLessThan(STREAM_REQUEST_BYTES);
      const tooMany = await watch(many, t.adminToken);
      expect(tooMany.details).toMatch(/tags/);
      expect(tooMany.details).not.toMatch(/larger than max/);
      const huge = Buffer.from(WatchRequest.encode({ project: 'p'.repeat(STREAM_REQUEST_BYTES), workload: 'w', scope: 1, etag: '', tags: [], deltas: false }).finish());
      const status = await watch(huge, t.adminToken);
      expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(status.details).toMatch(/larger than max/);
    } finally {
      raw.close();
      await t.stop();
    }
  });
});
