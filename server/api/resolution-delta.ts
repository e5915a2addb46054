/**
 * Watch deltas: the change between two encoded resolutions of one identity, as a WatchResponse
 * carrying a ResolutionDelta. Read from the bytes the hub already holds (the Resolution inside
 * a ResolveResponse, see encodeResolution) rather than from kept Resolution objects, which the
 * snapshots do not keep. A delta says variables only: when files or conflicts differ, or the
 * delta would not be smaller than the whole message, there is none and the whole one is sent.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import type { CachedResolution } from '../watch/snapshots.js';
import { compareRanges as compare } from './byte-ranges.js';
import { encodeFramed } from './framed-bytes.js';

/** Resolution fields (resources.proto) this reads. */
const RESOLUTION = 1; // in ResolveResponse / WatchResponse
const VARIABLES = 4;
const FILES = 5;
const CONFLICTS = 7;

/**
 * Where each part of an encoded resolution lies in its bytes. Offsets rather than decoded
 * strings: one update computes a delta per identity (hundreds), most variables are equal, and
 * equal entries are told apart by their bytes without decoding them.
 */
interface Parts {
  bytes: Buffer;
  /** Per variable: its map entry, its key and its value, as [start, end) offsets. */
  entry: number[];
  key: number[];
  value: number[];
  /** The encoded files and conflicts fields, in order: equal when these are equal. */
  rest: number[];
}

/**
 * A length-delimited value at the reader's position: returns [start, end) and moves past it
 * (BinaryReader.bytes() would make a view of it; only the offsets are wanted).
 */
function sub(r: BinaryReader, end: number): [number, number] {
  const len = r.uint32();
  const start = r.pos;
  r.pos += len;
  if (r.pos > end) throw new Error('truncated resolution');
  return [start, r.pos];
}

/** One reader over the whole message; nested messages are walked by position. */
function parts(message: Uint8Array): Parts {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const out: Parts = { bytes, entry: [], key: [], value: [], rest: [] };
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field !== RESOLUTION || wt !== WireType.LengthDelimited) r.skip(wt, field);
    else {
      const [start, end] = sub(r, r.len);
      r.pos = start;
      fields(r, out, end);
    }
  }
  return out;
}

/** The Resolution's fields, up to `end`. */
function fields(r: BinaryReader, out: Parts, end: number): void {
  while (r.pos < end) {
    const fieldStart = r.pos;
    const [field, wt] = r.tag();
    if (field === VARIABLES && wt === WireType.LengthDelimited) {
      const [start, stop] = sub(r, end);
      entry(r, out, start, stop);
    } else {
      r.skip(wt, field);
      if (r.pos > end) throw new Error('truncated resolution');
      if (field === FILES || field === CONFLICTS) out.rest.push(fieldStart, r.pos);
      // project, workload, scope, etag: the same identity, or said in the delta
    }
  }
}

/** One map entry: key = 1, value = 2 (either absent when empty). Leaves the reader at `end`. */
function entry(r: BinaryReader, out: Parts, start: number, end: number): void {
  let key: [number, number] = [start, start];
  let value: [number, number] = [start, start];
  r.pos = start;
  while (r.pos < end) {
    const [field, wt] = r.tag();
    if ((field === 1 || field === 2) && wt === WireType.LengthDelimited) {
      const range = sub(r, end);
      if (field === 1) key = range;
      else value = range;
    } else r.skip(wt, field);
  }
  r.pos = end;
  out.entry.push(start, end);
  out.key.push(key[0], key[1]);
  out.value.push(value[0], value[1]);
}

function same(a: Parts, list: 'entry' | 'rest', i: number, b: Parts, j: number): boolean {
  const x = a[list];
  const y = b[list];
  return x[i + 1]! - x[i]! === y[j + 1]! - y[j]! && compare(a.bytes, x[i]!, x[i + 1]!, b.bytes, y[j]!, y[j + 1]!) === 0;
}

/** Keys in strictly ascending byte order, as the resolver sorts them (the walk below relies on it). */
function sortedKeys(p: Parts): boolean {
  for (let i = 2; i < p.key.length; i += 2) if (compare(p.bytes, p.key[i - 2]!, p.key[i - 1]!, p.bytes, p.key[i]!, p.key[i + 1]!) >= 0) return false;
  return true;
}

const text = (p: Parts, list: 'key' | 'value', i: number) => p.bytes.toString('utf8', p[list][i], p[list][i + 1]);

/** What changed from a to b: by a merge of the sorted entries, or by keys when they are not sorted. */
function changes(a: Parts, b: Parts): { set: Record<string, string>; removed: string[] } {
  const set: Record<string, string> = {};
  const removed: string[] = [];
  if (!sortedKeys(a) || !sortedKeys(b)) {
    const before = new Map<string, number>();
    for (let i = 0; i < a.key.length; i += 2) before.set(text(a, 'key', i), i);
    for (let j = 0; j < b.key.length; j += 2) {
      const k = text(b, 'key', j);
      const i = before.get(k);
      before.delete(k);
      if (i === undefined || compare(a.bytes, a.value[i]!, a.value[i + 1]!, b.bytes, b.value[j]!, b.value[j + 1]!) !== 0) set[k] = text(b, 'value', j);
    }
    removed.push(...before.keys());
    return { set, removed };
  }
  let i = 0;
  let j = 0;
  while (i < a.entry.length || j < b.entry.length) {
    if (i < a.entry.length && j < b.entry.length && same(a, 'entry', i, b, j)) {
      i += 2;
      j += 2;
      continue;
    }
    const order = i >= a.entry.length ? 1 : j >= b.entry.length ? -1 : compare(a.bytes, a.key[i]!, a.key[i + 1]!, b.bytes, b.key[j]!, b.key[j + 1]!);
    if (order < 0) {
      removed.push(text(a, 'key', i));
      i += 2;
    } else {
      set[text(b, 'key', j)] = text(b, 'value', j);
      j += 2;
      if (order === 0) i += 2;
    }
  }
  return { set, removed };
}

function sameRest(a: Parts, b: Parts): boolean {
  if (a.rest.length !== b.rest.length) return false;
  for (let i = 0; i < a.rest.length; i += 2) if (!same(a, 'rest', i, b, i)) return false;
  return true;
}

/** The delta from `from` to `to` (the same identity), framed for the wire; null when none applies. */
export function encodeDelta(from: CachedResolution, to: CachedResolution): Uint8Array | null {
  let a: Parts;
  let b: Parts;
  try {
    a = parts(from.bytes);
    b = parts(to.bytes);
  } catch {
    // Bytes this server encoded always read; if they ever did not, the whole message still
    // goes out (a throw here would end the fan-out that called it).
    return null;
  }
  if (!sameRest(a, b)) return null;
  const { set, removed } = changes(a, b);
  const bytes = encodeFramed((w) => WatchResponse.encode({ delta: { baseEtag: from.etag, etag: to.etag, set, removed } }, w));
  return bytes.byteLength < to.bytes.byteLength ? bytes : null;
}
