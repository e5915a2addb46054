/**
 * Byte ranges of encoded messages, read and compared in place (resolution-delta.ts,
 * resolution-overlay.ts): these readers run once per identity in every fan-out, so nothing here
 * allocates. BinaryReader.tag() returns a [field, type] pair and skip() a view of what it
 * skipped; the readers read tags as varints and skip with skipField.
 */
import type { BinaryReader } from '@bufbuild/protobuf/wire';

/** Compares byte ranges: <0, 0 or >0. A loop: the ranges are short, and Buffer#compare's argument checks cost more than the bytes. */
export function compareRanges(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let k = 0; k < n; k++) {
    const d = a[as + k]! - b[bs + k]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}

/** Wire types (protobuf encoding) the readers meet. */
const VARINT = 0;
const BIT64 = 1;
export const LD = 2;
const BIT32 = 5;

/**
 * Moves past a length-delimited value at the reader's position and returns where it starts (it
 * ends at the reader's new position). Throws past `end`.
 */
export function skipDelimited(r: BinaryReader, end: number): number {
  const len = r.uint32();
  const start = r.pos;
  r.pos += len;
  if (r.pos > end) throw new Error('truncated resolution');
  return start;
}

/** Moves past a field of wire type `wt` (groups, which our messages never hold, throw). Throws past `end`. */
export function skipField(r: BinaryReader, wt: number, end: number): void {
  if (wt === VARINT) r.uint32(); // reads the whole varint, up to 10 bytes
  else if (wt === LD) skipDelimited(r, end);
  else if (wt === BIT64) r.pos += 8;
  else if (wt === BIT32) r.pos += 4;
  else throw new Error(`unexpected wire type ${wt}`);
  if (r.pos > end) throw new Error('truncated resolution');
}
