/**
 * Bytes kept with their gRPC prefix (server/api/framed-bytes.ts): grpc-js sends the kept frame
 * itself (no copy per message), and what arrives is exactly the message, with and without the
 * hook, over a real grpc-js server and client.
 */
import * as grpc from '@grpc/grpc-js';
import { BaseServerInterceptingCall } from '@grpc/grpc-js/build/src/server-interceptors.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFramed, FramedBytes, frameOf, installFramedPassthrough, KEPT_WRITER_BYTES } from '../../server/api/framed-bytes.js';

/** `message` as the kept frame of an encoding that wrote exactly its bytes. */
const framed = (message: Uint8Array) => encodeFramed((w) => w.raw(message));

const message = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 251);

it('keeps the message after a 5-byte gRPC prefix (uncompressed, big-endian length), in one buffer', () => {
  const bytes = framed(message);
  expect(bytes).toBeInstanceOf(FramedBytes);
  expect(bytes).toBeInstanceOf(Uint8Array);
  expect(Buffer.from(bytes)).toEqual(Buffer.from(message));
  expect([...bytes.frame.subarray(0, 5)]).toEqual([0, 0, 0, 0x0b, 0xb8]);
  expect(bytes.frame.subarray(5)).toEqual(Buffer.from(message));
  expect(bytes.buffer).toBe(bytes.frame.buffer);
  expect(bytes.byteOffset).toBe(bytes.frame.byteOffset + 5);
  expect(framed(new Uint8Array(0)).frame).toEqual(Buffer.from([0, 0, 0, 0, 0]));
});

it('frames bytes sent once in a new buffer with the same prefix (frameOf)', () => {
  expect(frameOf(message)).toEqual(framed(message).frame);
  expect(frameOf(new Uint8Array(0))).toEqual(Buffer.from([0, 0, 0, 0, 0]));
});

it("hands grpc-js the kept frame itself, and leaves every other answer to grpc-js's own framing", () => {
  expect(installFramedPassthrough()).toBe(true);
  expect(installFramedPassthrough()).toBe(true); // idempotent: not wrapped twice
  const serializeMessage = (BaseServerInterceptingCall.prototype as unknown as { serializeMessage(this: unknown, v: unknown): Buffer }).serializeMessage;
  const call = { handler: { serialize: (v: unknown) => Buffer.from(String(v)) } };
  const bytes = framed(message);
  expect(serializeMessage.call(call, bytes)).toBe(bytes.frame);
  expect(serializeMessage.call(call, 'abc')).toEqual(Buffer.from([0, 0, 0, 0, 3, 0x61, 0x62, 0x63]));
});

describe('over a real grpc-js server and client', () => {
  const passthrough = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(String(v)));
  const service: grpc.ServiceDefinition = {
    one: { path: '/t.T/One', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: passthrough, responseDeserialize: (b: Buffer) => b },
    many: { path: '/t.T/Many', requestStream: false, responseStream: true, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: passthrough, responseDeserialize: (b: Buffer) => b },
  };
  const shared = framed(message);
  const server = new grpc.Server();
  let client: grpc.Client;
  beforeAll(async () => {
    installFramedPassthrough();
    server.addService(service, {
      one: (_call: grpc.ServerUnaryCall<Buffer, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, shared),
      many: (call: grpc.ServerWritableStream<Buffer, unknown>) => {
        // The same bytes to several messages and a plain one between: each arrives whole.
        call.write(shared);
        call.write(framed(Buffer.from('second')));
        call.write(shared);
        call.end();
      },
    });
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterAll(() => {
    client?.close();
    server.forceShutdown();
  });

  it('a unary answer arrives as the message', async () => {
    const got = await new Promise<Buffer>((res, rej) =>
      client.makeUnaryRequest('/t.T/One', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (e, v) => (e ? rej(e) : res(v!))),
    );
    expect(got).toEqual(Buffer.from(message));
  });

  it('a stream of shared frames arrives message by message', async () => {
    const got: Buffer[] = [];
    await new Promise<void>((res, rej) => {
      const call = client.makeServerStreamRequest('/t.T/Many', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0));
      call.on('data', (b: Buffer) => got.push(b));
      call.on('error', rej);
      call.on('end', () => res());
    });
    expect(got).toEqual([Buffer.from(message), Buffer.from('second'), Buffer.from(message)]);
    // The kept frame is never written into: the next answer still carries the same bytes.
    expect(shared.frame.subarray(5)).toEqual(Buffer.from(message));
  });
});

it('encodes a message after room for the prefix, with the same bytes as a plain encoding', async () => {
  const { ResolveResponse } = await import('../../gen/secretgroups/v1/resolver_service.js');
  const msg = ResolveResponse.fromPartial({ resolution: { project: 'p', workload: 'w', etag: 'e', variables: { A: '1', B: 'two' } } });
  const bytes = encodeFramed((w) => ResolveResponse.encode(msg, w));
  const plain = ResolveResponse.encode(msg).finish();
  expect(Buffer.from(bytes)).toEqual(Buffer.from(plain));
  expect([...bytes.frame.subarray(0, 5)]).toEqual([0, 0, 0, 0, plain.byteLength]);
  expect(bytes.frame.subarray(5)).toEqual(Buffer.from(plain));
  expect(bytes.buffer).toBe(bytes.frame.buffer);
});

describe('one writer kept between messages', () => {
  it('leaves every frame it made as it was while later messages are written', () => {
    const first = framed(message);
    const copy = Buffer.from(first.frame);
    const second = framed(Uint8Array.from({ length: 3000 }, () => 0xee));
    framed(Uint8Array.from({ length: 10 }, () => 0x11));
    expect(first.frame).toEqual(copy);
    expect(first.buffer).not.toBe(second.buffer);
    expect(second.frame.subarray(5).every((b) => b === 0xee)).toBe(true);
  });

  it('starts the next message clean after an encoding that threw half-way', () => {
    expect(() =>
      encodeFramed((w) => {
        w.uint32(10).fork().raw(message);
        throw new Error('encoder failed');
      }),
    ).toThrow('encoder failed');
    expect([...framed(Uint8Array.of(1, 2, 3)).frame]).toEqual([0, 0, 0, 0, 3, 1, 2, 3]);
  });

  it('gives an encoding nested inside another a writer of its own', () => {
    const outer = encodeFramed((w) => {
      w.uint32(10).fork().raw(Uint8Array.of(7, 7));
      const inner = framed(Uint8Array.of(9, 9, 9));
      return w.raw(inner).join();
    });
    expect([...outer]).toEqual([10, 5, 7, 7, 9, 9, 9]);
    expect([...framed(Uint8Array.of(4)).frame]).toEqual([0, 0, 0, 0, 1, 4]);
  });

  it('encodes a message larger than the kept size, and the next small one, exactly', () => {
    const big = new Uint8Array(KEPT_WRITER_BYTES + 1).map((_, i) => i % 256);
    expect(Buffer.from(framed(big))).toEqual(Buffer.from(big));
    expect([...framed(Uint8Array.of(5, 6)).frame]).toEqual([0, 0, 0, 0, 2, 5, 6]);
  });
});
