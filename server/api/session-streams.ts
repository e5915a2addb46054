/**
 * Node keeps each HTTP/2 session's open streams in a Map (`session[kState].streams`, Node 20):
 * set when a stream opens, deleted when it closes, so on a busy connection the Map's table is
 * rebuilt every few dozen calls. V8 rebuilds a Map's table by copying the live entries into a
 * new table and leaving the old one in place, entries included, with a link to its successor
 * (for iterators). Once one of these tables is in the old generation — every full collection
 * moves the current one there — the young-generation collections, which take the old
 * generation as live, reach every later table through those links, and every stream still
 * listed in one: each call's stream is copied to the old generation and only the next full
 * collection frees it. Measured under Resolve load: 2.0 kB promoted per call, against
 * 0.7–0.8 kB with this table (docs/performance.md, "Node's stream table").
 *
 * StreamTable is a drop-in for that Map with no links between its generations: an object
 * keyed by stream id, whose storage V8 replaces without keeping the old one reachable from
 * the new. It is installed on the sessions of our server only, at their first stream.
 */
import type { Http2Session } from 'node:http2';

/** The Map operations Node's http2 code uses on a session's streams, and the rest of Map's reading API. */
export class StreamTable<V> {
  /** Stream ids are integers: this is an object's element store (a dictionary once sparse). */
  #byId: Record<number, V> = Object.create(null) as Record<number, V>;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(id: number): V | undefined {
    return this.#byId[id];
  }

  has(id: number): boolean {
    return this.#byId[id] !== undefined;
  }

  set(id: number, value: V): this {
    if (this.#byId[id] === undefined) this.#size++;
    this.#byId[id] = value;
    return this;
  }

  delete(id: number): boolean {
    if (this.#byId[id] === undefined) return false;
    delete this.#byId[id];
    this.#size--;
    return true;
  }

  clear(): void {
    this.#byId = Object.create(null) as Record<number, V>;
    this.#size = 0;
  }

  /** As Map's: entries deleted by the callback before their turn are skipped (a session destroys its streams this way). */
  forEach(fn: (value: V, id: number, table: this) => void, thisArg?: unknown): void {
    for (const [id, value] of this.entries()) fn.call(thisArg, value, id, this);
  }

  *entries(): IterableIterator<[number, V]> {
    for (const key of Object.keys(this.#byId)) {
      const value = this.#byId[key as unknown as number];
      if (value !== undefined) yield [Number(key), value];
    }
  }

  *keys(): IterableIterator<number> {
    for (const [id] of this.entries()) yield id;
  }

  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }
}

/** Node's private key of a session's state, found on the first session (null: not found, left alone). */
let stateKey: symbol | null | undefined;
const ADOPTED = Symbol('secret-groups.stream-table');
type StateSession = Http2Session & { [ADOPTED]?: true } & Record<symbol, unknown>;

/**
 * Replaces the session's stream Map by a StreamTable with the same entries, once per session.
 * Returns whether the session has one now (false: not Node's layout, left as it is).
 */
export function adoptSessionStreams(session: Http2Session | undefined): boolean {
  const s = session as StateSession | undefined;
  if (!s) return false;
  if (s[ADOPTED]) return true;
  stateKey ??= Object.getOwnPropertySymbols(s).find((k) => k.description === 'state') ?? null;
  const state = stateKey ? (s[stateKey] as { streams?: unknown } | undefined) : undefined;
  // Node's SafeMap: a Map whose prototype chain is cut from Map's (not instanceof Map).
  const streams = state?.streams as Partial<Map<number, unknown>> | undefined;
  if (typeof streams?.forEach !== 'function' || typeof streams.size !== 'number') return false;
  const table = new StreamTable<unknown>();
  streams.forEach((value, id) => table.set(id, value));
  state!.streams = table;
  s[ADOPTED] = true;
  return true;
}
