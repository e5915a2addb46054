/**
 * The agent's HTTP/2 transport against a bare node:http2 gRPC server: no RST_STREAM after a
 * call the server completed, large messages reassembled from many chunks, a receive limit.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Code, RpcError } from '../../client/errors.js';
import { FrameReader, Http2Transport } from '../../client/transport.js';

function frame(msg: Buffer): Buffer {
  const f = Buffer.alloc(5 + msg.length);
  f.writeUInt32BE(msg.length, 1);
  msg.copy(f, 5);
  return f;
}

interface Fake {
  addr: string;
  resets: number[];
  goaways: number;
  close(): Promise<void>;
}

/** A gRPC server answering every call with `reply(request)`, written in `chunk`-byte pieces. */
async function fakeServer(reply: (req: Buffer) => Buffer, chunk = 64 * 1024): Promise<Fake> {
  const resets: number[] = [];
  let goaways = 0;
  const server = http2.createServer();
  server.on('session', (s) => s.on('goaway', () => goaways++));
  server.on('stream', (stream) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('close', () => resets.push(stream.rstCode));
    stream.on('error', () => undefined); // a client that resets its call
    stream.on('end', () => {
      if (stream.destroyed || stream.closed) return;
      const body = Buffer.concat(parts).subarray(5);
      if (body.toString().startsWith('fail')) {
        // A trailers-only reply: the status comes with the response headers.
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'not found' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      const out = frame(reply(body));
      for (let i = 0; i < out.length; i += chunk) stream.write(out.subarray(i, i + chunk));
      stream.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    resets,
    get goaways() {
      return goaways;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}


/**
 * A loopback TCP proxy in front of `target` that counts the HTTP/2 RST_STREAM frames the client
 * sends (frame type 0x3), by reading the frame headers of the client's byte stream.
 */
async function rstCounter(target: string): Promise<{ addr: string; rsts: () => number; close(): Promise<void> }> {
  const [host, port] = [target.split(':')[0]!, Number(target.split(':')[1])];
  let rsts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let prefaceLeft = 24;
    client.on('data', (d: Buffer) => {
      upstream.write(d);
      pending = Buffer.concat([pending, d]);
      if (prefaceLeft > 0) {
        const n = Math.min(prefaceLeft, pending.length);
        pending = pending.subarray(n);
        prefaceLeft -= n;
      }
      while (pending.length >= 9) {
        const len = pending.readUIntBE(0, 3);
        if (pending.length < 9 + len) break;
        if (pending[3] === 0x3) rsts++;
        pending = pending.subarray(9 + len);
      }
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.on('close', () => b.destroy());
      a.on('error', () => b.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    rsts: () => rsts,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('agent HTTP/2 transport', () => {
  it('never resets a stream the server completed (rapid-reset protection would close the connection)', async () => {
    const srv = await fakeServer((req) => req);
    const proxy = await rstCounter(srv.addr);
    const t = new Http2Transport({ addr: proxy.addr });
    cleanups.push(() => t.close(), () => proxy.close(), () => srv.close());
    for (let i = 0; i < 100; i++) {
      const body = Buffer.from(`call ${i}`);
      expect(Buffer.from(await t.unary('Resolve', body, 5000)).toString()).toBe(`call ${i}`);
      // Errors come back trailers-only (the status in the response headers).
      const err = await t.unary('Resolve', Buffer.from(`fail ${i}`), 5000).catch((e: unknown) => e);
      expect((err as RpcError).code).toBe(Code.NOT_FOUND);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(proxy.rsts()).toBe(0);
    expect(srv.resets.filter((c) => c !== http2.constants.NGHTTP2_NO_ERROR)).toEqual([]);
    expect(srv.goaways).toBe(0);
  });

  it('still cancels a call the client abandons', async () => {
    const srv = await fakeServer(() => Buffer.alloc(10));
    const t = new Http2Transport({ addr: srv.addr });
    cleanups.push(() => t.close(), () => srv.close());
    const ended = new Promise<RpcError | null>((resolve) => {
      const call = t.stream('Watch', Buffer.alloc(0), { onMessage: () => call.cancel(), onEnd: resolve });
    });
    expect((await ended)?.code).toBe(Code.CANCELLED);
  });

  it('sends RST_STREAM(CANCEL) when it abandons a call', async () => {
    const srv = await fakeServer(() => Buffer.alloc(10));
    const proxy = await rstCounter(srv.addr);
    const t = new Http2Transport({ addr: proxy.addr });
    cleanups.push(() => t.close(), () => proxy.close(), () => srv.close());
    // A deadline shorter than any reply can take: the client gives up and resets the stream.
    const err = await t.unary('Resolve', Buffer.alloc(0), 1).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 100));
    expect(proxy.rsts()).toBeGreaterThan(0);
  });

  it('reassembles a 6 MB message sent in 1 kB chunks', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const srv = await fakeServer(() => big, 1024);
    const t = new Http2Transport({ addr: srv.addr });
    cleanups.push(() => t.close(), () => srv.close());
    const got = Buffer.from(await t.unary('Resolve', Buffer.alloc(0), 20_000));
    expect(got.equals(big)).toBe(true);
  });

  it('refuses a message larger than maxReceiveBytes from its header, before buffering it', async () => {
    const srv = await fakeServer(() => Buffer.alloc(2 * 1024 * 1024));
    const t = new Http2Transport({ addr: srv.addr, maxReceiveBytes: 1024 * 1024 });
    cleanups.push(() => t.close(), () => srv.close());
    const err = await t.unary('Resolve', Buffer.alloc(0), 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect((err as RpcError).message).toMatch(/2097152 bytes, more than the 1048576/);
  });
});

describe('FrameReader', () => {
  it('yields the same messages however the bytes are split into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (messages, cuts) => {
          const wire = Buffer.concat(messages.map((m) => frame(Buffer.from(m))));
          const r = new FrameReader();
          const got: Buffer[] = [];
          let off = 0;
          for (let i = 0; off < wire.length; i++) {
            const n = cuts[i % cuts.length]!;
            r.push(wire.subarray(off, off + n));
            off += n;
            for (let h = r.peekHeader(); h; h = r.peekHeader()) {
              const m = r.take(h.length);
              if (!m) break;
              got.push(Buffer.from(m));
            }
          }
          expect(got.map((b) => b.toString('hex'))).toEqual(messages.map((m) => Buffer.from(m).toString('hex')));
        },
      ),
      { numRuns: 300 },
    );
  });
});
