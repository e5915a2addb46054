/**
 * A workload's own variables override every group, so workloads that the same groups reach
 * differ only in their name and their own variables. The snapshots merge and encode one member
 * of such a class and make the others' resolutions from its bytes here: its own variables are
 * dropped (none of them is a key the class's groups set, so what is left is the groups' part),
 * the workload's are encoded into their places in key order, the rest is copied as it is, and
 * the etag is computed over the result. One change of a group reaching hundreds of workloads,
 * each with a variable of its own (a service name, a port), is then one merge and one encoding
 * per class, not one per workload, and nothing more is kept than the member's own bytes
 * (docs/architecture.md, the snapshots row of the server's boxes).
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { Conflict, Resolution_VariablesEntry } from '../../gen/secretgroups/v1/resources.js';
import { VariablesEtag } from '../domain/resolve.js';
import type { Vars } from '../domain/types.js';
import { compareRanges, LD, skipField } from './byte-ranges.js';
import { encodeFramed, type FramedBytes } from './framed-bytes.js';
import { OffsetList } from './offset-list.js';

/** Tags (field << 3 | wire type) of Resolution's fields, as ts-proto writes them, in field order. */
const TAG = { project: 10, workload: 18, scope: 24, variable: 34, file: 42, etag: 50, conflict: 58 } as const;
/** An array index: a plain object lists such keys first, whatever their place in key order. */
const INDEX_LIKE = /^(0|[1-9][0-9]*)$/;
/** Keys that compare alike as strings and as bytes, and whose length in UTF-16 is their byte length. */
const ASCII = /^[\x00-\x7f]*$/;
/**
 * Bases parse() refused (a class with files, say): every member of the class falls back, and
 * none reads the bytes again. Weak: a base goes with the snapshot that holds it.
 */
const cannotLay = new WeakSet<Uint8Array>();

/**
 * Where `bytes` (a ResolveResponse as encodeResolution writes it) holds what an overlay copies,
 * and each variable's key and value: four offsets per variable in `at` (key start and end,
 * value start and end), entries in key order (checked). Null when it is laid out otherwise, or
 * holds what an overlay cannot keep exact: files (their content is part of the etag), keys out
 * of key order, or keys that are not ASCII or are array indices.
 */
interface Layout {
  project: [number, number];
  scope: [number, number];
  /** Where the variables' fields start and where each ends (count + 1 offsets). */
  entries: OffsetList;
  at: OffsetList;
  conflicts: number;
  conflictKeys: string[];
}

/**
 * The offsets of the layout parse() returns, kept from one overlay to the next (offset-list.ts):
 * a layout is used only by the overlay that parsed it, synchronously.
 */
const ENTRIES = new OffsetList();
const AT = new OffsetList();

function parse(bytes: Uint8Array): Layout | null {
  const r = new BinaryReader(bytes);
  try {
    if (r.uint32() !== ((1 << 3) | LD)) return null;
    const length = r.uint32();
    if (r.pos + length !== r.len) return null;
    ENTRIES.clear();
    AT.clear();
    const layout: Layout = { project: [0, 0], scope: [0, 0], entries: ENTRIES, at: AT, conflicts: r.len, conflictKeys: [] };
    let last = 0;
    let sawWorkload = false;
    let sawEtag = false;
    while (r.pos < r.len) {
      const start = r.pos;
      const tag = r.uint32();
      // Fields in order, the repeated ones together: what the encoder writes.
      if (tag < last || (tag === last && tag !== TAG.variable && tag !== TAG.conflict)) return null;
      last = tag;
      if (tag === TAG.project || tag === TAG.scope) {
        skipField(r, tag & 7, r.len);
        layout[tag === TAG.scope ? 'scope' : 'project'] = [start, r.pos];
      } else if (tag === TAG.workload || tag === TAG.etag) {
        skipField(r, tag & 7, r.len);
        if (tag === TAG.workload) sawWorkload = true;
        else sawEtag = true;
      } else if (tag === TAG.variable) {
        if (!entry(r, bytes, layout, start)) return null;
      } else if (tag === TAG.conflict) {
        if (layout.conflicts === r.len) layout.conflicts = start;
        layout.conflictKeys.push(Conflict.decode(r, r.uint32()).key);
      } else return null; // files, or a field this module does not know
    }
    if (layout.entries.length) layout.entries.push(lastEnd(layout)); // where the last variable ends
    return sawWorkload && sawEtag ? layout : null;
  } catch {
    return null; // truncated
  }
}

function lastEnd(layout: Layout): number {
  return layout.at.last();
}

/** Reads one map entry (key, then value unless empty) after its tag; false when it cannot be kept exact. */
function entry(r: BinaryReader, bytes: Uint8Array, layout: Layout, start: number): boolean {
  const end = r.uint32() + r.pos;
  if (r.uint32() !== 10) return false; // a key, always set
  const keyLength = r.uint32();
  const keyStart = r.pos;
  const keyEnd = keyStart + keyLength;
  let valueStart = keyEnd;
  if (keyEnd < end) {
    r.pos = keyEnd;
    if (r.uint32() !== 18) return false;
    const valueLength = r.uint32();
    valueStart = r.pos;
    if (valueStart + valueLength !== end) return false;
  } else if (keyEnd !== end) return false;
  for (let i = keyStart; i < keyEnd; i++) if (bytes[i]! >= 0x80) return false;
  if (isIndexLike(bytes, keyStart, keyEnd)) return false;
  const n = layout.at.length;
  if (n && compareRanges(bytes, layout.at.get(n - 4), layout.at.get(n - 3), bytes, keyStart, keyEnd) >= 0) return false;
  layout.entries.push(start);
  layout.at.push(keyStart);
  layout.at.push(keyEnd);
  layout.at.push(valueStart);
  layout.at.push(end);
  r.pos = end;
  return true;
}

function isIndexLike(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i]! < 0x30 || b[i]! > 0x39) return false;
  return end - start === 1 || b[start] !== 0x30;
}

/** An ASCII key against key bytes: negative, zero or positive, as string order has it. */
function compareKey(key: string, b: Uint8Array, start: number, end: number): number {
  const n = Math.min(key.length, end - start);
  for (let i = 0; i < n; i++) {
    const d = key.charCodeAt(i) - b[start + i]!;
    if (d) return d;
  }
  return key.length - (end - start);
}

/** Whether the key bytes are one of `keys` (a loop: a closure per variable was over a third of an overlay's garbage). */
function isOneOf(keys: readonly string[], b: Uint8Array, start: number, end: number): boolean {
  for (let i = 0; i < keys.length; i++) if (compareKey(keys[i]!, b, start, end) === 0) return true;
  return false;
}

/**
 * Calls `fromBase(i)` for each of the base's variables kept and `fromOwn(key)` for each own
 * key, in key order: an own key replaces the base's, and the base's `drop` keys are left out.
 */
function walk(bytes: Uint8Array, layout: Layout, drop: readonly string[], ownKeys: readonly string[], fromBase: (i: number) => void, fromOwn: (key: string) => void): void {
  const count = layout.entries.length - 1;
  let j = 0;
  for (let i = 0; i < count; i++) {
    const ks = layout.at.get(4 * i);
    const ke = layout.at.get(4 * i + 1);
    while (j < ownKeys.length && compareKey(ownKeys[j]!, bytes, ks, ke) < 0) fromOwn(ownKeys[j++]!);
    if (j < ownKeys.length && compareKey(ownKeys[j]!, bytes, ks, ke) === 0) fromOwn(ownKeys[j++]!);
    else if (!isOneOf(drop, bytes, ks, ke)) fromBase(i);
  }
  while (j < ownKeys.length) fromOwn(ownKeys[j++]!);
}

/**
 * The encoded resolution of `workload` with its own variables `own`, made from `base`: the
 * encoded resolution of another member of its class whose own variables have the keys `drop`
 * (none of them set by the class's groups). Framed like it. Undefined when it cannot be exact
 * (see parse; or the workload sets a key on which the class's groups tie, so that the conflict
 * list differs): the caller then resolves and encodes the workload itself.
 */
export function overlayResolution(base: Uint8Array, drop: readonly string[], workload: string, own: Vars): { bytes: FramedBytes; etag: string } | undefined {
  if (cannotLay.has(base)) return undefined;
  const layout = parse(base);
  if (!layout) {
    cannotLay.add(base); // the class's other members need not read it again
    return undefined;
  }
  const ownKeys = Object.keys(own).sort();
  for (const key of ownKeys) if (!ASCII.test(key) || INDEX_LIKE.test(key) || layout.conflictKeys.includes(key)) return undefined;
  for (const key of drop) if (!ASCII.test(key) || INDEX_LIKE.test(key)) return undefined;

  const text = new VariablesEtag();
  walk(
    base,
    layout,
    drop,
    ownKeys,
    (i) => text.addUtf8(base, layout.at.get(4 * i), layout.at.get(4 * i + 1), layout.at.get(4 * i + 2), layout.at.get(4 * i + 3)),
    (key) => text.add(key, own[key]!),
  );
  const etag = text.etag();
  const bytes = encodeFramed((w) => {
    w.tag(1, LD).fork().raw(base.subarray(...layout.project)).tag(2, LD).string(workload).raw(base.subarray(...layout.scope));
    // A run of kept entries is one stretch of the base's bytes: copied at once.
    let run = -1;
    let runEnd = -1;
    const flush = () => {
      if (run >= 0) w.raw(base.subarray(run, runEnd));
      run = -1;
    };
    walk(
      base,
      layout,
      drop,
      ownKeys,
      (i) => {
        if (run < 0 || runEnd !== layout.entries.get(i)) {
          flush();
          run = layout.entries.get(i);
        }
        runEnd = layout.entries.get(i + 1);
      },
      (key) => {
        flush();
        Resolution_VariablesEntry.encode({ key, value: own[key]! }, w.uint32(TAG.variable).fork()).join();
      },
    );
    flush();
    return w.uint32(TAG.etag).string(etag).raw(base.subarray(layout.conflicts)).join();
  });
  return { bytes, etag };
}
