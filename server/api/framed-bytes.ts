/**
 * Response bytes encoded once and sent many times (a resolution: one Resolve answer after
 * another, and every Watch subscriber of an identity) are kept with their gRPC message prefix
 * (5 bytes: not compressed, length) in front, in one buffer. grpc-js frames every message it
 * sends by allocating a new buffer and copying the serialized bytes into it; for such bytes the
 * server sends the kept frame instead. One update to 5,000 watchers of ~11 kB resolutions was
 * 5,000 allocations and ~55 MB copied, and the external memory they counted drove V8's
 * collections (docs/architecture.md, "Components": the watch hub).
 *
 * The hook is grpc-js's BaseServerInterceptingCall.serializeMessage (1.14; not public API).
 * When it is missing, FramedBytes are ordinary bytes (they are a Uint8Array of the message
 * itself) and grpc-js copies them as before: nothing depends on the hook but speed.
 */
import * as interceptors from '@grpc/grpc-js/build/src/server-interceptors.js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';

/** The message bytes (a view of `frame` after its 5-byte prefix). */
export class FramedBytes extends Uint8Array {
  /** The whole gRPC length-prefixed message: prefix and these bytes. */
  frame!: Buffer;
}

/** gRPC's message prefix: a compressed flag and a 4-byte big-endian length. */
export const PREFIX = 5;

const PLACEHOLDER = new Uint8Array(PREFIX);

/** Writes the prefix of the message that fills the rest of `frame`. */
function prefix(frame: Buffer): number {
  const length = frame.byteLength - PREFIX;
  frame[0] = 0; // not compressed
  frame.writeUInt32BE(length, 1);
  return length;
}

function keep(frame: Buffer): FramedBytes {
  const length = prefix(frame);
  const bytes = new FramedBytes(frame.buffer as ArrayBuffer, frame.byteOffset + PREFIX, length);
  bytes.frame = frame;
  return bytes;
}

/** `bytes` with the prefix in front, as a new buffer: for messages encoded once and sent once. */
export function frameOf(bytes: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX + bytes.byteLength);
  frame.set(bytes, PREFIX);
  prefix(frame);
  return frame;
}

/**
 * The writer of the last message framed, kept with its buffer for the next one. A new writer
 * starts at 128 bytes and doubles: a 1.4 kB resolution took five buffers and four copies
 * before the one kept, for every identity in every fan-out (docs/architecture.md,
 * "Components": the watch hub).
 * Taken out while in use, so a nested or failed encoding never shares a half-written writer;
 * not kept after a message over KEPT_WRITER_BYTES (its buffer, up to twice that, would stay).
 */
let spareWriter: BinaryWriter | undefined;
export const KEPT_WRITER_BYTES = 256 * 1024;

/** A message encoded (`encode` writes it) after room for the prefix: no copy of its bytes. */
export function encodeFramed(encode: (writer: BinaryWriter) => BinaryWriter): FramedBytes {
  const writer = spareWriter ?? new BinaryWriter();
  spareWriter = undefined;
  // finish() copies the message out and resets the writer's position, keeping its buffer.
  const out = encode(writer.raw(PLACEHOLDER)).finish();
  if (out.byteLength <= KEPT_WRITER_BYTES) spareWriter = writer;
  return keep(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
}

type Serialize = (this: { handler: { serialize(value: unknown): Buffer } }, value: unknown) => Buffer;
type CallPrototype = { serializeMessage?: Serialize; [HOOKED]?: true };
const HOOKED = Symbol.for('secret-groups.framed-bytes');

/**
 * Lets grpc-js send a FramedBytes answer's kept frame as it is. Idempotent; returns whether the
 * hook is in place (false when grpc-js has no such method any more).
 */
export function installFramedPassthrough(): boolean {
  const proto = (interceptors as unknown as { BaseServerInterceptingCall?: { prototype: CallPrototype } }).BaseServerInterceptingCall?.prototype;
  if (!proto || typeof proto.serializeMessage !== 'function') return false;
  if (proto[HOOKED]) return true;
  const original = proto.serializeMessage;
  proto.serializeMessage = function (value) {
    // The handler's serializer still runs for everything else (and would pass these through).
    return value instanceof FramedBytes ? value.frame : original.call(this, value);
  };
  proto[HOOKED] = true;
  return true;
}
