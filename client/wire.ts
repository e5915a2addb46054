/**
 * Protobuf wire codec for the handful of ResolverService messages the client exchanges.
 *
 * Why hand-written: loading the generated ts-proto module pulls in @bufbuild/protobuf and the
 * whole resources file (~20 ms), and grpc-js another ~30 ms; `sg-agent exec -- true` has a budget
 * of one `node -e 0` (~55 ms) for everything it does. Field numbers mirror
 * proto/secretgroups/v1/resolver_service.proto and resources.proto; a property test checks this
 * codec against the generated one in both directions.
 */
import type { Conflict, Provenance, Resolution, Scope, SecretFile, Source } from '../gen/secretgroups/v1/resources.js';
import type { ExplainResponse, ResolutionDelta, RestartEvent, WatchResponse } from '../gen/secretgroups/v1/resolver_service.js';

export type { Conflict, Provenance, Resolution, ResolutionDelta, Scope, SecretFile, Source, ExplainResponse, RestartEvent, WatchResponse };

/** Numeric values of `secretgroups.v1.Scope`, without loading the generated enum. */
export const SCOPE_RUNTIME = 1 as Scope;
export const SCOPE_BUILD = 2 as Scope;

/** Whose resolution: what caches key it by (the request's project, workload and scope). */
export interface Identity {
  project: string;
  workload: string;
  scope: Scope;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });

class Writer {
  private chunks: number[] = [];
  private parts: Uint8Array[] = [];

  private flush(): void {
    if (this.chunks.length) {
      this.parts.push(Uint8Array.from(this.chunks));
      this.chunks = [];
    }
  }

  varint(n: number): void {
    // Non-negative values below 2^53 only (enums, lengths); negative ints are never sent.
    let v = n;
    while (v >= 0x80) {
      this.chunks.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.chunks.push(v);
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** Singular fields skip the default value; elements of repeated fields are always written. */
  string(field: number, s: string, always = false): void {
    if (!s && !always) return;
    const b = enc.encode(s);
    this.tag(field, 2);
    this.varint(b.length);
    this.flush();
    this.parts.push(b);
  }

  uint(field: number, n: number): void {
    if (!n) return;
    this.tag(field, 0);
    this.varint(n);
  }

  finish(): Uint8Array {
    this.flush();
    const len = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(len);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

export interface IdentityRequest {
  project: string;
  workload: string;
  scope: Scope;
  tags?: string[];
}

/** ResolveRequest and ExplainRequest share fields 1-3; ResolveRequest has tags at 4. */
export function encodeResolveRequest(r: IdentityRequest): Uint8Array {
  const w = new Writer();
  w.string(1, r.project);
  w.string(2, r.workload);
  w.uint(3, r.scope);
  for (const t of r.tags ?? []) w.string(4, t, true);
  return w.finish();
}

export function encodeExplainRequest(r: IdentityRequest): Uint8Array {
  const w = new Writer();
  w.string(1, r.project);
  w.string(2, r.workload);
  w.uint(3, r.scope);
  return w.finish();
}

export function encodeWatchRequest(r: IdentityRequest & { etag?: string; deltas?: boolean }): Uint8Array {
  const w = new Writer();
  w.string(1, r.project);
  w.string(2, r.workload);
  w.uint(3, r.scope);
  w.string(4, r.etag ?? '');
  for (const t of r.tags ?? []) w.string(5, t, true);
  w.uint(6, r.deltas ? 1 : 0);
  return w.finish();
}

class Reader {
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Returns the value as a JS number; int64 values above 2^53 lose precision (timestamps do not). */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
    throw new Error('varint too long');
  }

  /** int32 fields carry negative numbers as 10-byte two's complement varints. */
  int32(): number {
    let lo = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      if (shift < 32) lo |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) return lo | 0;
    }
    throw new Error('varint too long');
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error('truncated field');
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  string(): string {
    return dec.decode(this.bytes());
  }

  sub(): Reader {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error('truncated message');
    const r = new Reader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return r;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.pos += this.varint();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw new Error(`unsupported wire type ${wireType}`);
    }
  }

  /** Iterates over (field, wireType) pairs; the callback must consume the value. */
  fields(fn: (field: number, wireType: number) => boolean | void): void {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wt = key & 7;
      if (fn(field, wt) !== true) continue;
      this.skip(wt);
    }
    if (this.pos > this.end) throw new Error('truncated message');
  }
}

// Each decoder returns `true` from the field callback for fields it does not know, which skips them.

function decodeSecretFile(r: Reader): SecretFile {
  const f: SecretFile = { path: '', content: Buffer.alloc(0), mode: 0, size: 0 };
  r.fields((field, wt) => {
    if (field === 1 && wt === 2) f.path = r.string();
    else if (field === 2 && wt === 2) f.content = Buffer.from(r.bytes());
    else if (field === 3 && wt === 0) f.mode = r.varint() >>> 0;
    else if (field === 4 && wt === 0) f.size = r.varint();
    else return true;
  });
  return f;
}

function decodeConflict(r: Reader): Conflict {
  const c: Conflict = { key: '', priority: 0, groups: [], winner: '' };
  r.fields((field, wt) => {
    if (field === 1 && wt === 2) c.key = r.string();
    else if (field === 2 && wt === 0) c.priority = r.int32();
    else if (field === 3 && wt === 2) c.groups.push(r.string());
    else if (field === 4 && wt === 2) c.winner = r.string();
    else return true;
  });
  return c;
}

function decodeSource(r: Reader): Source {
  const s: Source = { kind: '', group: '', priority: 0, addon: '' };
  r.fields((field, wt) => {
    if (field === 1 && wt === 2) s.kind = r.string();
    else if (field === 2 && wt === 2) s.group = r.string();
    else if (field === 3 && wt === 0) s.priority = r.int32();
    else if (field === 4 && wt === 2) s.addon = r.string();
    else return true;
  });
  return s;
}

function decodeProvenance(r: Reader): Provenance {
  const p: Provenance = { key: '', winner: undefined, shadowed: [], conflict: false };
  r.fields((field, wt) => {
    if (field === 1 && wt === 2) p.key = r.string();
    else if (field === 2 && wt === 2) p.winner = decodeSource(r.sub());
    else if (field === 3 && wt === 2) p.shadowed.push(decodeSource(r.sub()));
    else if (field === 4 && wt === 0) p.conflict = r.varint() !== 0;
    else return true;
  });
  return p;
}

/** One map<string, string> entry, added to `into`. */
function decodeMapEntry(e: Reader, into: Record<string, string>): void {
  let key = '';
  let value = '';
  e.fields((f, wt) => {
    if (f === 1 && wt === 2) key = e.string();
    else if (f === 2 && wt === 2) value = e.string();
    else return true;
  });
  into[key] = value;
}

function decodeResolutionFrom(r: Reader): Resolution {
  const res: Resolution = { project: '', workload: '', scope: 0 as Scope, variables: {}, files: [], etag: '', conflicts: [] };
  r.fields((field, wt) => {
    if (field === 1 && wt === 2) res.project = r.string();
    else if (field === 2 && wt === 2) res.workload = r.string();
    else if (field === 3 && wt === 0) res.scope = r.varint() as Scope;
    else if (field === 4 && wt === 2) decodeMapEntry(r.sub(), res.variables);
    else if (field === 5 && wt === 2) res.files.push(decodeSecretFile(r.sub()));
    else if (field === 6 && wt === 2) res.etag = r.string();
    else if (field === 7 && wt === 2) res.conflicts.push(decodeConflict(r.sub()));
    else return true;
  });
  return res;
}

export function decodeResolution(buf: Uint8Array): Resolution {
  return decodeResolutionFrom(new Reader(buf));
}

/** ResolveResponse { Resolution resolution = 1; } */
export function decodeResolveResponse(buf: Uint8Array): Resolution {
  const r = new Reader(buf);
  let res: Resolution | undefined;
  r.fields((field, wt) => {
    if (field === 1 && wt === 2) res = decodeResolutionFrom(r.sub());
    else return true;
  });
  if (!res) throw new Error('ResolveResponse without a resolution');
  return res;
}

export function decodeWatchResponse(buf: Uint8Array): WatchResponse {
  const r = new Reader(buf);
  const out: WatchResponse = {};
  r.fields((field, wt) => {
    if (wt !== 2) return true;
    const m = r.sub();
    if (field === 1) out.resolution = decodeResolutionFrom(m);
    else if (field === 2) {
      const ev: RestartEvent = { group: '', requestedBy: '', timeMs: 0 };
      m.fields((f, w) => {
        if (f === 1 && w === 2) ev.group = m.string();
        else if (f === 2 && w === 2) ev.requestedBy = m.string();
        else if (f === 3 && w === 0) ev.timeMs = m.varint();
        else return true;
      });
      out.restart = ev;
    } else if (field === 3) {
      const hb = { timeMs: 0 };
      m.fields((f, w) => {
        if (f === 1 && w === 0) hb.timeMs = m.varint();
        else return true;
      });
      out.heartbeat = hb;
    } else if (field === 4) {
      const u = { etag: '' };
      m.fields((f, w) => {
        if (f === 1 && w === 2) u.etag = m.string();
        else return true;
      });
      out.unchanged = u;
    } else if (field === 5) {
      const d: ResolutionDelta = { baseEtag: '', etag: '', set: {}, removed: [] };
      m.fields((f, w) => {
        if (f === 1 && w === 2) d.baseEtag = m.string();
        else if (f === 2 && w === 2) d.etag = m.string();
        else if (f === 3 && w === 2) decodeMapEntry(m.sub(), d.set);
        else if (f === 4 && w === 2) d.removed.push(m.string());
        else return true;
      });
      out.delta = d;
    }
  });
  return out;
}

export function decodeExplainResponse(buf: Uint8Array): ExplainResponse {
  const r = new Reader(buf);
  const out: ExplainResponse = { etag: '', variables: [], files: [], conflicts: [] };
  r.fields((field, wt) => {
    if (field === 1 && wt === 2) out.etag = r.string();
    else if (field === 2 && wt === 2) out.variables.push(decodeProvenance(r.sub()));
    else if (field === 3 && wt === 2) out.files.push(decodeProvenance(r.sub()));
    else if (field === 4 && wt === 2) out.conflicts.push(decodeConflict(r.sub()));
    else return true;
  });
  return out;
}

/** Resolution → bytes, for the on-disk cache (same wire format as the server's). */
export function encodeResolution(res: Resolution): Uint8Array {
  const w = new Writer();
  const parts: Uint8Array[] = [];
  w.string(1, res.project);
  w.string(2, res.workload);
  w.uint(3, res.scope);
  parts.push(w.finish());
  const msg = (field: number, body: Uint8Array) => {
    const h = new Writer();
    h.tag(field, 2);
    h.varint(body.length);
    parts.push(h.finish(), body);
  };
  for (const key of Object.keys(res.variables).sort()) {
    const e = new Writer();
    e.string(1, key);
    e.string(2, res.variables[key]!);
    msg(4, e.finish());
  }
  for (const f of res.files) {
    const fw = new Writer();
    fw.string(1, f.path);
    const body = fw.finish();
    const cw = new Writer();
    if (f.content.length) {
      cw.tag(2, 2);
      cw.varint(f.content.length);
    }
    const tail = new Writer();
    tail.uint(3, f.mode);
    tail.uint(4, f.size);
    msg(5, concat([body, cw.finish(), f.content.length ? new Uint8Array(f.content) : new Uint8Array(), tail.finish()]));
  }
  const et = new Writer();
  et.string(6, res.etag);
  parts.push(et.finish());
  for (const c of res.conflicts) {
    const cw = new Writer();
    cw.string(1, c.key);
    cw.uint(2, c.priority > 0 ? c.priority : 0);
    for (const g of c.groups) cw.string(3, g, true);
    cw.string(4, c.winner);
    msg(7, cw.finish());
  }
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
