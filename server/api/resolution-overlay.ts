/**
 * A workload's own variables override every group, so workloads that the same groups reach
 * differ only in their name and their own variables. The snapshots merge and encode the groups'
 * part once per such class (the resolution of a workload without variables of its own) and
 * lay each workload's own variables over those bytes here: the class's entries are copied as
 * they are, the workload's are encoded into their places in key order, and the etag is
 * computed over the result. One change of a group reaching hundreds of workloads, each with a
 * variable of its own (a service name, a port), is then one merge and one encoding per class,
 * not one per workload (docs/architecture.md, the snapshots row of the server's boxes).
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { Conflict, Resolution_VariablesEntry } from '../../gen/secretgroups/v1/resources.js';
import { VariablesEtag, variablesText } from '../domain/resolve.js';
import type { Vars } from '../domain/types.js';
import { encodeFramed, type FramedBytes } from './framed-bytes.js';

/** A class's encoded resolution, split where a workload's name and variables go. */
interface Base {
  /** The project field (empty when the project is ''). */
  project: Uint8Array;
  /** The scope field (empty for the default scope). */
  scope: Uint8Array;
  /** Variable keys in the order encoded, which is key order (checked). */
  keys: string[];
  /** The variables' etag text (variablesText), and where each variable's part starts. */
  text: Uint8Array;
  textStarts: number[];
  /** The bytes the offsets below are in. */
  body: Uint8Array;
  /**
   * Where each variable's field (tag, length, entry) starts, and after the last one where it
   * ends: the entries are one stretch of bytes, in key order.
   */
  entries: number[];
  /** The conflict fields, the last of the message. */
  conflicts: Uint8Array;
  /** Keys of the conflicts: a workload that sets one settles the tie, and the list differs. */
  conflictKeys: Set<string>;
}

const EMPTY = new Uint8Array(0);
const LD = WireType.LengthDelimited;
/** Tags (field << 3 | wire type) of Resolution's fields, as ts-proto writes them, in field order. */
const TAG = { project: 10, workload: 18, scope: 24, variable: 34, file: 42, etag: 50, conflict: 58 } as const;
/** An array index: a plain object lists such keys first, whatever their place in key order. */
const INDEX_LIKE = /^(0|[1-9][0-9]*)$/;

/** Parsed once per class's bytes (the bytes are replaced, not changed, when the class changes). */
const bases = new WeakMap<Uint8Array, Base | null>();

/**
 * `bytes` (a ResolveResponse as encodeResolution writes it) split into a Base; null when it is
 * laid out otherwise, or holds what an overlay cannot keep exact: files (their content is part
 * of the etag) or keys out of key order.
 */
function parse(bytes: Uint8Array): Base | null {
  const r = new BinaryReader(bytes);
  try {
    if (r.uint32() !== ((1 << 3) | LD)) return null;
    const length = r.uint32();
    if (r.pos + length !== r.len) return null;
    const base: Base = { project: EMPTY, scope: EMPTY, keys: [], text: EMPTY, textStarts: [], body: bytes, entries: [], conflicts: EMPTY, conflictKeys: new Set() };
    const values: string[] = [];
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
        r.skip(tag === TAG.scope ? WireType.Varint : LD);
        base[tag === TAG.scope ? 'scope' : 'project'] = bytes.subarray(start, r.pos);
      } else if (tag === TAG.workload) {
        r.skip(LD);
        sawWorkload = true;
      } else if (tag === TAG.variable) {
        const entryLength = r.uint32();
        const { key, value } = Resolution_VariablesEntry.decode(r, entryLength);
        const previous = base.keys[base.keys.length - 1];
        if (INDEX_LIKE.test(key) || (previous !== undefined && previous >= key)) return null;
        base.keys.push(key);
        values.push(value);
        if (base.entries.length === 0) base.entries.push(start);
        base.entries.push(r.pos);
      } else if (tag === TAG.etag) {
        r.skip(LD);
        sawEtag = true;
      } else if (tag === TAG.conflict) {
        if (base.conflicts === EMPTY) base.conflicts = bytes.subarray(start);
        base.conflictKeys.add(Conflict.decode(r, r.uint32()).key);
      } else return null; // files, or a field this module does not know
    }
    if (!sawWorkload || !sawEtag) return null;
    ({ text: base.text, starts: base.textStarts } = variablesText(base.keys, values));
    return base;
  } catch {
    return null; // truncated
  }
}

/**
 * Calls `fromBase` with each run of the base's entries [from, to) and `fromOwn` with each own
 * key, in key order; an own key replaces the base's.
 */
function walk(base: Base, ownKeys: readonly string[], fromBase: (from: number, to: number) => void, fromOwn: (key: string) => void): void {
  let i = 0;
  for (const key of ownKeys) {
    const from = i;
    while (i < base.keys.length && base.keys[i]! < key) i++;
    if (i > from) fromBase(from, i);
    if (base.keys[i] === key) i++;
    fromOwn(key);
  }
  if (i < base.keys.length) fromBase(i, base.keys.length);
}

/**
 * The encoded resolution of `workload` with its own variables `own`, from `base`: the encoded
 * resolution of a workload the same groups reach that has none (framed like it). Undefined when
 * it cannot be exact (see parse; or the workload settles one of the base's conflicts): the
 * caller then resolves and encodes the workload itself.
 */
export function overlayResolution(base: Uint8Array, workload: string, own: Vars): { bytes: FramedBytes; etag: string } | undefined {
  let b = bases.get(base);
  if (b === undefined) bases.set(base, (b = parse(base)));
  if (!b) return undefined;
  const ownKeys = Object.keys(own).sort();
  for (const key of ownKeys) if (INDEX_LIKE.test(key) || b.conflictKeys.has(key)) return undefined;
  const parts = b;
  const text = new VariablesEtag();
  walk(
    parts,
    ownKeys,
    (from, to) => text.piece(parts.text.subarray(parts.textStarts[from], parts.textStarts[to])),
    (key) => text.add(key, own[key]!),
  );
  const etag = text.etag();
  const bytes = encodeFramed((w) => {
    w.tag(1, LD).fork().raw(parts.project).tag(2, LD).string(workload).raw(parts.scope);
    walk(
      parts,
      ownKeys,
      // A run of entries is one stretch of the base's bytes: copied at once.
      (from, to) => w.raw(parts.body.subarray(parts.entries[from]!, parts.entries[to]!)),
      (key) => Resolution_VariablesEntry.encode({ key, value: own[key]! }, w.uint32(TAG.variable).fork()).join(),
    );
    return w.uint32(TAG.etag).string(etag).raw(parts.conflicts).join();
  });
  return { bytes, etag };
}
