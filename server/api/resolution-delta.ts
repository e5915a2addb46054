/**
 * Watch deltas: the change between two encoded resolutions of one identity, as a WatchResponse
 * carrying a ResolutionDelta. Read from the bytes the hub already holds (the Resolution inside
 * a ResolveResponse, see encodeResolution) rather than from kept Resolution objects, which the
 * snapshots do not keep. A delta says variables only: when files or conflicts differ, or the
 * delta would not be smaller than the whole message, there is none and the whole one is sent.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import type { CachedResolution } from '../watch/snapshots.js';
import { compareRanges as compare, LD, skipDelimited, skipField } from './byte-ranges.js';
import { encodeFramed } from './framed-bytes.js';
import { OffsetList } from './offset-list.js';

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
  entry: OffsetList;
  key: OffsetList;
  value: OffsetList;
  /** The encoded files and conflicts fields, in order: equal when these are equal. */
  rest: OffsetList;
}

const EMPTY = Buffer.alloc(0);
const newParts = (): Parts => ({ bytes: EMPTY, entry: new OffsetList(), key: new OffsetList(), value: new OffsetList(), rest: new OffsetList() });
/** The two resolutions a delta is read from (encodeDelta reads them, then lets go of the bytes). */
const FROM = newParts();
const TO = newParts();

/**
 * One reader over the whole message, into `out`; nested messages are walked by position.
 * Nothing is allocated per field (byte-ranges.ts), and the offsets go into lists kept between
 * reads (offset-list.ts): ~250 small objects per resolution read, before.
 */
function parts(message: Uint8Array, out: Parts): Parts {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  out.bytes = bytes;
  out.entry.clear();
  out.key.clear();
  out.value.clear();
  out.rest.clear();
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== RESOLUTION || (tag & 7) !== LD) skipField(r, tag & 7, r.len);
    else {
      const start = skipDelimited(r, r.len);
      const end = r.pos;
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
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === VARIABLES && (tag & 7) === LD) {
      const start = skipDelimited(r, end);
      entry(r, out, start, r.pos);
    } else {
      skipField(r, tag & 7, end);
      if (field === FILES || field === CONFLICTS) {
        out.rest.push(fieldStart);
        out.rest.push(r.pos);
      }
      // project, workload, scope, etag: the same identity, or said in the delta
    }
  }
}

/** One map entry: key = 1, value = 2 (either absent when empty). Leaves the reader at `end`. */
function entry(r: BinaryReader, out: Parts, start: number, end: number): void {
  let keyStart = start;
  let keyEnd = start;
  let valueStart = start;
  let valueEnd = start;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if ((field === 1 || field === 2) && (tag & 7) === LD) {
      const from = skipDelimited(r, end);
      if (field === 1) {
        keyStart = from;
        keyEnd = r.pos;
      } else {
        valueStart = from;
        valueEnd = r.pos;
      }
    } else skipField(r, tag & 7, end);
  }
  r.pos = end;
  out.entry.push(start);
  out.entry.push(end);
  out.key.push(keyStart);
  out.key.push(keyEnd);
  out.value.push(valueStart);
  out.value.push(valueEnd);
}

function same(a: Parts, list: 'entry' | 'rest', i: number, b: Parts, j: number): boolean {
  const x = a[list];
  const y = b[list];
  const xs = x.get(i);
  const xe = x.get(i + 1);
  const ys = y.get(j);
  const ye = y.get(j + 1);
  return xe - xs === ye - ys && compare(a.bytes, xs, xe, b.bytes, ys, ye) === 0;
}

/** Keys in strictly ascending byte order, as the resolver sorts them (the walk below relies on it). */
function sortedKeys(p: Parts): boolean {
  const k = p.key;
  for (let i = 2; i < k.length; i += 2) if (compare(p.bytes, k.get(i - 2), k.get(i - 1), p.bytes, k.get(i), k.get(i + 1)) >= 0) return false;
  return true;
}

const text = (p: Parts, list: 'key' | 'value', i: number) => p.bytes.toString('utf8', p[list].get(i), p[list].get(i + 1));

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
      if (i === undefined || compare(a.bytes, a.value.get(i), a.value.get(i + 1), b.bytes, b.value.get(j), b.value.get(j + 1)) !== 0) set[k] = text(b, 'value', j);
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
    const order = i >= a.entry.length ? 1 : j >= b.entry.length ? -1 : compare(a.bytes, a.key.get(i), a.key.get(i + 1), b.bytes, b.key.get(j), b.key.get(j + 1));
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
  let set: Record<string, string>;
  let removed: string[];
  try {
    const a = parts(from.bytes, FROM);
    const b = parts(to.bytes, TO);
    if (!sameRest(a, b)) return null;
    ({ set, removed } = changes(a, b));
  } catch {
    // Bytes this server encoded always read; if they ever did not, the whole message still
    // goes out (a throw here would end the fan-out that called it).
    return null;
  } finally {
    // The kept lists must not hold the resolutions' bytes past this call.
    FROM.bytes = TO.bytes = EMPTY;
  }
  const bytes = encodeFramed((w) => WatchResponse.encode({ delta: { baseEtag: from.etag, etag: to.etag, set, removed } }, w));
  return bytes.byteLength < to.bytes.byteLength ? bytes : null;
}
