/**
 * Workloads whose resolutions have the same content (the same groups reach them and they have
 * no variables of their own) differ in their encoded message only by the workload's name. The
 * snapshots encode such a resolution once and give the others a copy of its bytes with that
 * field replaced: one change of a group reaching hundreds of workloads is then one merge and
 * one encoding, not hundreds (see docs/architecture.md, "Fan-out").
 */
import { keep, PREFIX } from './framed-bytes.js';

const RESOLUTION_TAG = (1 << 3) | 2; // ResolveResponse.resolution, length-delimited
const PROJECT_TAG = (1 << 3) | 2; // Resolution.project
const WORKLOAD_TAG = (2 << 3) | 2; // Resolution.workload

/** A varint at `pos`: [value, next position]; undefined when it runs past `end`. */
function varint(b: Uint8Array, pos: number, end: number): [number, number] | undefined {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 5 && pos < end; i++) {
    const x = b[pos++]!;
    result += (x & 0x7f) * mul;
    if (x < 0x80) return [result, pos];
    mul *= 0x80;
  }
  return undefined;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

function writeVarint(out: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[pos++] = n;
  return pos;
}

/**
 * The encoded resolution `bytes` (a ResolveResponse, as encodeResolution writes it: project,
 * then workload, first) for `workload` instead, framed like it; undefined when the bytes are not
 * laid out that way (the caller then encodes the resolution itself).
 */
export function renameResolution(bytes: Uint8Array, workload: string): Uint8Array | undefined {
  const end = bytes.byteLength;
  if (bytes[0] !== RESOLUTION_TAG) return undefined;
  const outer = varint(bytes, 1, end);
  if (!outer || outer[1] + outer[0] !== end) return undefined;
  let pos = outer[1];
  const bodyStart = pos;
  if (bytes[pos] === PROJECT_TAG) {
    const len = varint(bytes, pos + 1, end);
    if (!len) return undefined;
    pos = len[1] + len[0];
  }
  if (bytes[pos] !== WORKLOAD_TAG) return undefined;
  const old = varint(bytes, pos + 1, end);
  if (!old) return undefined;
  const before = pos; // the workload field starts here
  const after = old[1] + old[0];
  if (after > end) return undefined;

  const name = Buffer.from(workload, 'utf8');
  const field = 1 + varintLength(name.byteLength) + name.byteLength;
  const body = before - bodyStart + field + (end - after);
  const length = 1 + varintLength(body) + body;
  const frame = Buffer.allocUnsafe(PREFIX + length);
  let at = PREFIX;
  frame[at++] = RESOLUTION_TAG;
  at = writeVarint(frame, at, body);
  frame.set(bytes.subarray(bodyStart, before), at);
  at += before - bodyStart;
  frame[at++] = WORKLOAD_TAG;
  at = writeVarint(frame, at, name.byteLength);
  frame.set(name, at);
  at += name.byteLength;
  frame.set(bytes.subarray(after), at);
  return keep(frame);
}
