/** The Watch hub with a real in-memory store and snapshots, and fake transports. */
import { beforeEach, describe, expect, it } from 'vitest';
import { Snapshots, type ResolutionEncoder } from '../../server/watch/snapshots.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import { WatchHub, type WatchEncoder, type WatchSink } from '../../server/watch/hub.js';
import { group, workload } from '../helpers/fixtures.js';

/** Messages as readable tuples; resolutions carry their etag. */
const encodeResolution: ResolutionEncoder = (r) => Buffer.from(`resolution:${r.variables.A ?? ''}:${r.etag}`);
/** Deltas as `delta:<A after>:<etag before>><etag after>`, counted; none while `noDeltas`. */
let deltasEncoded = 0;
let noDeltas = false;
const encoder: WatchEncoder = {
  unchanged: (etag) => Buffer.from(`unchanged:${etag}`),
  restart: (g) => Buffer.from(`restart:${g}`),
  heartbeat: () => Buffer.from('heartbeat'),
  delta: (from, to) => {
    if (noDeltas) return null;
    deltasEncoded++;
    return Buffer.from(`delta:${Buffer.from(to.bytes).toString().split(':')[1]}:${from.etag}>${to.etag}`);
  },
};

class FakeSink implements WatchSink {
  written: Uint8Array[] = [];
  full = false;
  private drain: (() => void) | undefined;
  failed: string | undefined;
  /** Completions not yet reported (see complete). */
  pending: (() => void)[] = [];
  write(bytes: Uint8Array, written?: () => void) {
    this.written.push(bytes);
    if (written) this.pending.push(written);
    return !this.full;
  }
  /** The transport hands its queued messages on. */
  complete() {
    for (const w of this.pending.splice(0)) w();
  }
  onDrain(fn: () => void) {
    this.drain = fn;
  }
  fail(code: string, message: string) {
    this.failed = `${code}: ${message}`;
  }
  unblock() {
    this.full = false;
    const d = this.drain;
    this.drain = undefined;
    d?.();
  }
  texts() {
    return this.written.map((b) => Buffer.from(b).toString().replace(/:[^:]*$/, ''));
  }
}

let store: SqliteStore;
let snapshots: Snapshots;
let hub: WatchHub;
let revision = 1;
async function setA(value: string) {
  revision++;
  await store.updateRecord('group', group('g', { revision, variables: { A: value } }));
  await snapshots.refresh('p');
}

beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.init();
  await store.createProject({ name: 'p', createdAt: 1 });
  await store.createRecord('workload', workload('api'));
  await store.createRecord('workload', workload('other'));
  await store.createRecord('group', group('g', { variables: { A: '1' } }));
  revision = 1;
  deltasEncoded = 0;
  noDeltas = false;
  snapshots = new Snapshots(store, encodeResolution);
  hub = new WatchHub(snapshots, encoder, 0);
});

describe('WatchHub', () => {
  it('sends the current resolution first and then only real changes', async () => {
    const sink = new FakeSink();
    hub.join(await snapshots.get('p'), 'api', 'runtime', '', sink);
    await setA('2');
    await setA('2'); // same content: no message
    await setA('3');
    expect(sink.texts()).toEqual(['resolution:1', 'resolution:2', 'resolution:3']);
  });

  it('subscribes against the newest snapshot, even if the caller looked up an older one', async () => {
    const stale = await snapshots.get('p');
    await setA('2'); // published while the subscriber was not registered yet
    const sink = new FakeSink();
    hub.join(stale, 'api', 'runtime', '', sink);
    expect(sink.texts()).toEqual(['resolution:2']);
  });

  it('answers `unchanged` to a caller that already holds the current etag', async () => {
    const state = await snapshots.get('p');
    const etag = state.resolution('api', 'runtime').etag;
    const sink = new FakeSink();
    hub.join(state, 'api', 'runtime', etag, sink);
    expect(sink.texts()).toEqual([`unchanged`]);
  });

  it('encodes a change once and writes the same bytes to every subscriber of the identity', async () => {
    const sinks = Array.from({ length: 5 }, () => new FakeSink());
    const state = await snapshots.get('p');
    for (const s of sinks) hub.join(state, 'api', 'runtime', '', s);
    await setA('2');
    const last = sinks.map((s) => s.written.at(-1));
    expect(new Set(last).size).toBe(1);
  });

  it('a subscriber that asked for deltas gets what changed from the resolution it holds; the others the whole one', async () => {
    const state = await snapshots.get('p');
    const whole = new FakeSink();
    const deltas = [new FakeSink(), new FakeSink()];
    hub.join(state, 'api', 'runtime', '', whole);
    for (const sink of deltas) hub.join(state, 'api', 'runtime', '', sink, true);
    const etags = [state.resolution('api', 'runtime').etag];
    await setA('2');
    etags.push((await snapshots.get('p')).resolution('api', 'runtime').etag);
    await setA('3');
    etags.push((await snapshots.get('p')).resolution('api', 'runtime').etag);
    expect(whole.texts()).toEqual(['resolution:1', 'resolution:2', 'resolution:3']);
    for (const sink of deltas) {
      // The first message is always whole; each delta is from the etag the stream carried last.
      expect(sink.texts()).toEqual(['resolution:1', 'delta:2', 'delta:3']);
      expect(Buffer.from(sink.written[1]!).toString()).toBe(`delta:2:${etags[0]}>${etags[1]}`);
      expect(Buffer.from(sink.written[2]!).toString()).toBe(`delta:3:${etags[1]}>${etags[2]}`);
    }
    expect(deltasEncoded).toBe(2); // once per change, shared by the identity's subscribers
  });

  it('encodes no delta for an identity whose subscribers did not ask for one, and sends whole ones when none applies', async () => {
    const state = await snapshots.get('p');
    const plain = new FakeSink();
    hub.join(state, 'api', 'runtime', '', plain);
    await setA('2');
    expect(deltasEncoded).toBe(0);
    const sink = new FakeSink();
    hub.join(state, 'other', 'runtime', '', sink, true);
    noDeltas = true; // files or conflicts changed, or the delta would not be smaller
    await setA('3');
    expect(sink.texts()).toEqual(['resolution:2', 'resolution:3']);
  });

  it('a delta subscriber that missed changes while blocked gets the whole latest resolution when it drains', async () => {
    const slow = new FakeSink();
    const state = await snapshots.get('p');
    hub.join(state, 'api', 'runtime', '', slow, true);
    slow.full = true;
    await setA('2'); // a delta, written; then the transport reports full
    for (let i = 3; i <= 10; i++) await setA(String(i));
    slow.unblock();
    // The pending delta is from the etag of v9, not v2, which is what this stream holds.
    expect(slow.texts()).toEqual(['resolution:1', 'delta:2', 'resolution:10']);
  });

  it('a delta subscriber that resumed from a current etag gets deltas from it', async () => {
    const state = await snapshots.get('p');
    const sink = new FakeSink();
    hub.join(state, 'api', 'runtime', state.resolution('api', 'runtime').etag, sink, true);
    await setA('2');
    expect(sink.texts()).toEqual(['unchanged', 'delta:2']);
  });

  it('a subscriber that stops reading gets only the latest resolution when it drains, and never delays others', async () => {
    const slow = new FakeSink();
    const fast = new FakeSink();
    const state = await snapshots.get('p');
    hub.join(state, 'api', 'runtime', '', slow);
    hub.join(state, 'api', 'runtime', '', fast);
    slow.full = true;
    await setA('2'); // written, then the transport reports full
    for (let i = 3; i <= 50; i++) await setA(String(i));
    expect(fast.texts().at(-1)).toBe('resolution:50');
    expect(slow.written).toHaveLength(2); // nothing more queued while blocked
    slow.unblock();
    expect(slow.texts()).toEqual(['resolution:1', 'resolution:2', 'resolution:50']);
  });

  it('queues restart events for a blocked subscriber, at most 16, and never loses the newest', async () => {
    const sink = new FakeSink();
    hub.join(await snapshots.get('p'), 'api', 'runtime', '', sink);
    sink.full = true;
    await setA('2'); // written; the transport now reports full
    for (let i = 0; i < 40; i++) hub.restart('p', new Set(['api']), `g${i}`, 'test');
    expect(sink.written).toHaveLength(2); // the first resolution and the v2 one: nothing while blocked
    sink.unblock();
    const restarts = sink.written.slice(2).map((b) => Buffer.from(b).toString());
    expect(restarts).toHaveLength(16);
    expect(restarts.at(-1)).toBe('restart:g39');
  });

  it('fans out in chunks; a newer change overtakes an older one without anyone going backwards', async () => {
    const sinks = Array.from({ length: 1200 }, () => new FakeSink());
    const state = await snapshots.get('p');
    for (const sink of sinks) hub.join(state, 'api', 'runtime', '', sink);
    await setA('2'); // the first chunk now, the rest on later turns
    await setA('3'); // arrives before the v2 fan-out finished
    // Nobody reports completions here: each full window goes on after its stall timeout.
    for (let waited = 0; waited < 2_000 && !sinks.every((k) => k.texts().at(-1) === 'resolution:3'); waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const sink of sinks) {
      const seen = sink.texts();
      expect(seen.at(-1)).toBe('resolution:3');
      expect(seen.indexOf('resolution:2')).toBeLessThanOrEqual(seen.indexOf('resolution:3'));
    }
    expect(sinks.filter((s) => s.texts().includes('resolution:2')).length).toBeLessThan(1200);
  });

  it('a newer change overtaking an older one midway sends each delta subscriber a delta only from what it holds', async () => {
    const sinks = Array.from({ length: 1200 }, () => new FakeSink());
    const state = await snapshots.get('p');
    for (const sink of sinks) hub.join(state, 'api', 'runtime', '', sink, true);
    await setA('2'); // the first chunk now, the rest on later turns
    await setA('3');
    const final = (await snapshots.get('p')).resolution('api', 'runtime').etag;
    for (let waited = 0; waited < 2_000 && !sinks.every((k) => k.texts().at(-1)?.endsWith(':3')); waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    let deltas = 0;
    for (const sink of sinks) {
      let held = '';
      for (const text of sink.written.map((b) => Buffer.from(b).toString())) {
        const [kind, , etags] = text.split(':');
        if (kind === 'resolution') held = etags!;
        else {
          const [base, after] = etags!.split('>');
          expect(base).toBe(held);
          held = after!;
          deltas++;
        }
      }
      expect(held).toBe(final);
    }
    // Those reached by v2 got deltas throughout; the others hold v1, not v3's base (v2), and got it whole.
    const reached = sinks.filter((k) => k.texts().includes('delta:2'));
    expect(reached.length).toBeGreaterThan(0);
    expect(reached.length).toBeLessThan(1200);
    for (const sink of reached) expect(sink.texts()).toEqual(['resolution:1', 'delta:2', 'delta:3']);
    for (const sink of sinks.filter((k) => !reached.includes(k))) expect(sink.texts()).toEqual(['resolution:1', 'resolution:3']);
    expect(deltas).toBe(2 * reached.length);
  });

  it('a change overtaken midway by one that leaves the identity as it was still reaches every subscriber, once', async () => {
    await store.createRecord('group', group('h', { restrictions: { restricted: true, workloads: ['other'], tags: [] }, variables: { B: '1' } }));
    await snapshots.refresh('p');
    const sinks = Array.from({ length: 1200 }, () => new FakeSink());
    const state = await snapshots.get('p');
    for (const sink of sinks) hub.join(state, 'api', 'runtime', '', sink);
    await setA('2'); // written to the first subscribers only
    expect(sinks.filter((k) => k.texts().includes('resolution:2')).length).toBeLessThan(1200);
    // A change that does not reach `api`: its resolution stays what the first ones were sent.
    await store.updateRecord('group', group('h', { revision: 2, restrictions: { restricted: true, workloads: ['other'], tags: [] }, variables: { B: '2' } }));
    await snapshots.refresh('p');
    for (let waited = 0; waited < 2_000 && !sinks.every((k) => k.texts().at(-1) === 'resolution:2'); waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const sink of sinks) expect(sink.texts()).toEqual(['resolution:1', 'resolution:2']);
  });

  it("resolves a change's identities as it writes them: the change is published before most are resolved", async () => {
    const names = Array.from({ length: 700 }, (_, i) => `w${i}`);
    for (const name of names) await store.createRecord('workload', workload(name));
    let resolved = 0;
    const counted = new Snapshots(store, encodeResolution, (hit) => void (hit || resolved++));
    const own = new WatchHub(counted, encoder, 0);
    const state = await counted.get('p');
    const sinks = names.map((name) => {
      const sink = new FakeSink();
      own.join(state, name, 'runtime', '', sink);
      return sink;
    });
    const got = () => sinks.filter((k) => k.texts().includes('resolution:2')).length;
    resolved = 0;
    revision++;
    await store.updateRecord('group', group('g', { revision, variables: { A: '2' } }));
    await counted.refresh('p');
    expect(got()).toBeGreaterThan(0);
    expect(resolved).toBeLessThan(700);
    for (let i = 0; i < 200 && got() < 700; i++) {
      for (const k of sinks) k.complete();
      await new Promise((r) => setImmediate(r));
    }
    for (const sink of sinks) expect(sink.texts()).toEqual(['resolution:1', 'resolution:2']);
    expect(resolved).toBe(700);
  });

  it('heartbeats go to every subscriber that is not blocked, within the window, after any change on its way', async () => {
    const sinks = Array.from({ length: 1200 }, () => new FakeSink());
    const state = await snapshots.get('p');
    for (const sink of sinks) hub.join(state, 'api', 'runtime', '', sink);
    sinks[1199]!.full = true;
    await setA('2'); // blocks the last sink on its write of this change
    for (const k of sinks) k.complete();
    hub.beat();
    const beaten = () => sinks.filter((k) => k.texts().includes('heartbeat')).length;
    expect(beaten()).toBeLessThanOrEqual(256); // the window
    await setA('3'); // written before the heartbeats still waiting
    for (let i = 0; i < 400 && sinks.slice(0, 1199).some((k) => !k.texts().includes('heartbeat') || !k.texts().includes('resolution:3')); i++) {
      for (const k of sinks) k.complete();
      await new Promise((r) => setImmediate(r));
    }
    for (const sink of sinks.slice(0, 1199)) expect(sink.texts().filter((t) => t === 'heartbeat')).toHaveLength(1);
    expect(sinks[1199]!.texts()).not.toContain('heartbeat');
    const late = sinks.filter((k) => k.texts().indexOf('resolution:3') < k.texts().indexOf('heartbeat'));
    expect(late.length).toBeGreaterThan(500);
  });

  it('keeps at most a window of fan-out writes in flight, and goes on as transports hand them on', async () => {
    const sinks = Array.from({ length: 1000 }, () => new FakeSink());
    const state = await snapshots.get('p');
    for (const sink of sinks) hub.join(state, 'api', 'runtime', '', sink);
    const got = () => sinks.filter((k) => k.texts().includes('resolution:2')).length;
    await setA('2');
    await new Promise((r) => setImmediate(r));
    expect(got()).toBe(256); // the window: nothing handed on yet
    // Completions free the window; half of it free is enough to go on.
    for (const k of sinks.slice(0, 100)) k.complete();
    await new Promise((r) => setImmediate(r));
    expect(got()).toBe(256);
    for (const k of sinks.slice(100, 256)) k.complete();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(got()).toBe(512);
    for (let i = 0; i < 20 && got() < 1000; i++) {
      for (const k of sinks) k.complete();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    }
    expect(got()).toBe(1000);
  });

  it('a window whose writes never complete (calls that ended) goes on after a moment', async () => {
    const sinks = Array.from({ length: 600 }, () => new FakeSink());
    const state = await snapshots.get('p');
    for (const sink of sinks) hub.join(state, 'api', 'runtime', '', sink);
    const started = Date.now();
    await setA('2');
    while (!sinks.every((k) => k.texts().includes('resolution:2'))) {
      expect(Date.now() - started).toBeLessThan(2_000);
      await new Promise((r) => setTimeout(r, 5));
    }
  });

  it('a restart sent while a change is on its way follows that change on every stream', async () => {
    const names = Array.from({ length: 700 }, (_, i) => `w${i}`);
    for (const name of names) await store.createRecord('workload', workload(name));
    await snapshots.refresh('p');
    const state = await snapshots.get('p');
    const sinks = names.map((name) => {
      const sink = new FakeSink();
      hub.join(state, name, 'runtime', '', sink);
      return sink;
    });
    await setA('2'); // the first chunk only
    expect(sinks.filter((k) => k.texts().includes('resolution:2')).length).toBeLessThan(700);
    expect(hub.restart('p', new Set(names), 'g', 'op')).toBe(700);
    for (const sink of sinks) expect(sink.texts()).toEqual(['resolution:1', 'resolution:2', 'restart']);
    for (let i = 0; i < 20; i++) {
      for (const k of sinks) k.complete();
      await new Promise((r) => setImmediate(r));
    }
    for (const sink of sinks) expect(sink.texts()).toEqual(['resolution:1', 'resolution:2', 'restart']);
  });

  it('closeAll ends every stream and drops the fan-out on its way', async () => {
    const sinks = Array.from({ length: 1200 }, () => new FakeSink());
    const state = await snapshots.get('p');
    for (const sink of sinks) hub.join(state, 'api', 'runtime', '', sink);
    await setA('2');
    hub.closeAll('shutting down');
    const writes = sinks.reduce((n, k) => n + k.written.length, 0);
    for (let i = 0; i < 10; i++) {
      for (const k of sinks) k.complete();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(sinks.reduce((n, k) => n + k.written.length, 0)).toBe(writes);
    for (const sink of sinks) expect(sink.failed).toBe('UNAVAILABLE: shutting down');
  });

  it('restart reaches only runtime subscribers of the named workloads and counts them', async () => {
    const api = new FakeSink();
    const other = new FakeSink();
    const build = new FakeSink();
    const state = await snapshots.get('p');
    hub.join(state, 'api', 'runtime', '', api);
    hub.join(state, 'other', 'runtime', '', other);
    hub.join(state, 'api', 'build', '', build);
    expect(hub.restart('p', new Set(['api']), 'g', 'test')).toBe(1);
    expect(api.texts().at(-1)).toBe('restart');
    expect(other.texts()).toEqual(['resolution:1']);
    expect(build.texts()).toEqual(['resolution:1']);
  });

  it('unsubscribing removes the subscriber; a deleted workload ends its streams with NOT_FOUND', async () => {
    const sink = new FakeSink();
    const sub = hub.join(await snapshots.get('p'), 'api', 'runtime', '', sink);
    expect(hub.subscriberCount).toBe(1);
    hub.leave(sub);
    hub.leave(sub); // a second leave changes nothing
    expect(hub.subscriberCount).toBe(0);
    const other = new FakeSink();
    hub.join(await snapshots.get('p'), 'other', 'runtime', '', other);
    await store.deleteRecord('workload', 'p', 'other', 1);
    await snapshots.refresh('p');
    expect(other.failed).toMatch(/^NOT_FOUND: workload p\/other was deleted/);
  });
});

describe('one encoding for Resolve and Watch', () => {
  it('ResolveResponse and WatchResponse carrying the same resolution are byte-identical', async () => {
    const { ResolveResponse, WatchResponse } = await import('../../gen/secretgroups/v1/resolver_service.js');
    const resolution = {
      project: 'p', workload: 'api', scope: 1, variables: { A: '1', B: 'ü\n' }, etag: 'e',
      files: [{ path: '/x', content: Buffer.from([0, 1]), mode: 0o600, size: 2 }],
      conflicts: [{ key: 'A', priority: 1, groups: ['a', 'b'], winner: 'a' }],
    };
    const a = Buffer.from(ResolveResponse.encode({ resolution }).finish());
    const b = Buffer.from(WatchResponse.encode({ resolution }).finish());
    expect(a.equals(b)).toBe(true);
    expect(WatchResponse.decode(a).resolution).toEqual(ResolveResponse.decode(b).resolution);
  });
});

describe('WatchHub with a group over the expansion limit (stored by an older version)', () => {
  it('keeps the streams of the workloads it reaches on their last resolution, and serves the others', async () => {
    const api = new FakeSink();
    const other = new FakeSink();
    const state = await snapshots.get('p');
    hub.join(state, 'api', 'runtime', '', api);
    hub.join(state, 'other', 'runtime', '', other);
    const bomb: Record<string, string> = { A0: 'x'.repeat(60 * 1024) };
    for (let i = 1; i <= 14; i++) bomb[`A${i}`] = `\${A${i - 1}}\${A${i - 1}}`;
    const bad = group('bad', { restrictions: { restricted: true, workloads: ['other'], tags: [] }, variables: bomb });
    await store.createRecord('group', bad);
    await snapshots.refresh('p');
    await setA('2');
    expect(api.texts()).toEqual(['resolution:1', 'resolution:2']);
    expect(other.failed).toBeUndefined();
    expect(other.texts()).toEqual(['resolution:1']);
    // Fixed, the group reaches its workloads again.
    await store.updateRecord('group', { ...bad, revision: 2, variables: { B: 'b' } });
    await snapshots.refresh('p');
    expect(other.texts()).toEqual(['resolution:1', 'resolution:2']);
  });
});
