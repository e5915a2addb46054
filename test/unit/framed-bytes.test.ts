/**
 * Bytes kept with their gRPC prefix (server/api/framed-bytes.ts): grpc-js sends the kept frame
 * itself (no copy per message), and what arrives is exactly the message, with and without the
 * hook, over a real grpc-js server and client.
 */
import * as grpc from '@grpc/grpc-js';
import { BaseServerInterceptingCall } from '@grpc/grpc-js/build/src/server-interceptors.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFramed, FramedBytes, frameOf, installFramedPassthrough } from '../../server/api/framed-bytes.js';

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
