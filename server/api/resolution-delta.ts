/**
 * Watch deltas: the change between two encoded resolutions of one identity, as a WatchResponse
 * carrying a ResolutionDelta. Read from the bytes the hub already holds (the Resolution inside
 * a ResolveResponse, see encodeResolution) rather than from kept Resolution objects, which the
 * snapshots do not keep. A delta says variables only: when files or conflicts differ, or the
 * delta would not be smaller than the whole message, there is none and the whole one is sent.
 */
import { WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import type { CachedResolution } from '../watch/snapshots.js';
import { encodeFramed } from './framed-bytes.js';

/** Resolution fields (resources.proto) this reads. */
const RESOLUTION = 1; // in ResolveResponse / WatchResponse
const VARIABLES = 4;
const FILES = 5;
const CONFLICTS = 7;
const LENGTH_DELIMITED = 2;

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

class Cursor {
  constructor(
    readonly b: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated resolution');
      const x = this.b[this.pos++]!;
      result += (x & 0x7f) * mul;
      if (x < 0x80) return result;
      mul *= 0x80;
    }
    throw new Error('varint too long');
  }

  /** A length-delimited value: returns its start and moves past it. */
  sub(): number {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new Error('truncated resolution');
    return start;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === LENGTH_DELIMITED) this.sub();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unexpected wire type ${wireType}`);
    if (this.pos > this.end) throw new Error('truncated resolution');
  }
}

function parts(message: Uint8Array): Parts {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const out: Parts = { bytes, entry: [], key: [], value: [], rest: [] };
  const top = new Cursor(bytes, 0, bytes.byteLength);
  while (top.pos < top.end) {
    const tag = top.varint();
    if (tag !== RESOLUTION * 8 + LENGTH_DELIMITED) {
      top.skip(tag & 7);
      continue;
    }
    const start = top.sub();
    const r = new Cursor(bytes, start, top.pos);
    while (r.pos < r.end) {
      const fieldStart = r.pos;
      const t = r.varint();
      const field = Math.floor(t / 8);
      if (field === VARIABLES && (t & 7) === LENGTH_DELIMITED) {
        const s = r.sub();
        entry(out, new Cursor(bytes, s, r.pos));
      } else {
        r.skip(t & 7);
        if (field === FILES || field === CONFLICTS) out.rest.push(fieldStart, r.pos);
        // project, workload, scope, etag: the same identity, or said in the delta
      }
    }
  }
  return out;
}

/** One map entry: key = 1, value = 2 (either absent when empty). */
function entry(out: Parts, e: Cursor): void {
  const start = e.pos;
  let key = [start, start];
  let value = [start, start];
  while (e.pos < e.end) {
    const t = e.varint();
    if (t === 10 || t === 18) {
      const s = e.sub();
      if (t === 10) key = [s, e.pos];
      else value = [s, e.pos];
    } else e.skip(t & 7);
  }
  out.entry.push(start, e.end);
  out.key.push(key[0]!, key[1]!);
  out.value.push(value[0]!, value[1]!);
}

/** Compares byte ranges: <0, 0 or >0. A loop: the ranges are short, and Buffer#compare's argument checks cost more than the bytes. */
function compare(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let k = 0; k < n; k++) {
    const d = a[as + k]! - b[bs + k]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
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
  const a = parts(from.bytes);
  const b = parts(to.bytes);
  if (!sameRest(a, b)) return null;
  const { set, removed } = changes(a, b);
  const bytes = encodeFramed((w) => WatchResponse.encode({ delta: { baseEtag: from.etag, etag: to.etag, set, removed } }, w));
  return bytes.byteLength < to.bytes.byteLength ? bytes : null;
}
