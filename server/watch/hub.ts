/**
 * Watch subscriptions and fan-out. Subscribers of one identity (project, workload, scope)
 * share one resolution: on a change it is computed and encoded once, and the same bytes are
 * written to every subscriber whose etag differs. Subscribers that asked for deltas and hold the
 * identity's previous resolution get what changed instead, encoded once too (see Outgoing). A
 * subscriber that stops reading never makes memory grow: only the latest resolution waits for
 * it (latest wins), plus a bounded queue of restart events.
 */
import { DomainError } from '../domain/errors.js';
import type { ResolveScope } from '../domain/types.js';
import type { CachedResolution, ProjectState, Snapshots } from './snapshots.js';

/** The transport side of one Watch call. */
export interface WatchSink {
  /**
   * false when the transport buffer is full; then wait for onDrain. `written`, when given, is
   * called once the transport has handed the message on (it may never be, if the call ends).
   */
  write(bytes: Uint8Array, written?: () => void): boolean;
  onDrain(fn: () => void): void;
  /** Ends the call with an error status. */
  fail(code: 'NOT_FOUND' | 'UNAVAILABLE' | 'PERMISSION_DENIED' | 'UNAUTHENTICATED', message: string): void;
}

/** Encodes hub events into wire messages (supplied by the API layer); resolutions come encoded. */
export interface WatchEncoder {
  unchanged(etag: string): Uint8Array;
  /**
   * The change from one encoded resolution of an identity to the next as a delta message, or
   * null when a delta cannot say it (files or conflicts changed) or would not be smaller.
   */
  delta(from: CachedResolution, to: CachedResolution): Uint8Array | null;
  restart(group: string, requestedBy: string, timeMs: number): Uint8Array;
  heartbeat(timeMs: number): Uint8Array;
}

const MAX_QUEUED_EVENTS = 16;
/**
 * Subscribers written per turn of the event loop during a fan-out: the rest follow in later
 * turns, so the writer's response and other RPCs are not held up behind thousands of writes.
 */
const FANOUT_CHUNK = 500;
/**
 * Fan-out writes in flight at most: written to a transport and not yet handed on by it. Until
 * then each holds a framed copy of its message (and a write request) in HTTP/2's queue, so
 * without a window one update to 5,000 watchers queued all 5,000 copies at once, ~16 MB that
 * the allocator then kept as RSS; with it a fan-out holds about this many, however many
 * watchers there are. Large enough to keep the connections busy while completions come back.
 */
const FANOUT_WINDOW = 256;
/**
 * How long a full window waits for completions before it goes on regardless: a write to a
 * call that ended meanwhile never completes, and must not hold the others up for long.
 */
const FANOUT_STALL_MS = 20;

/**
 * A resolution on its way to subscribers: the whole message, and the delta from the identity's
 * previous resolution (`base` is its etag) for subscribers that asked for deltas and hold it.
 */
export interface Outgoing {
  bytes: Uint8Array;
  etag: string;
  delta: { base: string; bytes: Uint8Array } | null;
}

export class Subscriber {
  etag = '';
  blocked = false;
  /** Latest resolution not yet written (latest wins). */
  pendingResolution: Outgoing | null = null;
  /** Events held while blocked; allocated when first needed (most streams never block). */
  queued: Uint8Array[] | null = null;

  constructor(
    readonly identity: Identity,
    readonly sink: WatchSink,
    /** The caller applies deltas (WatchRequest.deltas). */
    readonly deltas: boolean,
  ) {}

  /**
   * `written`: see WatchSink.write; not called when nothing was written now. Returns whether a
   * write was made. The delta only when what it applies to is what this stream carried last.
   */
  sendResolution(out: Outgoing, written?: () => void): boolean {
    if (out.etag === this.etag) return false;
    if (this.blocked) {
      this.pendingResolution = out;
      return false;
    }
    const delta = this.deltas && out.delta?.base === this.etag ? out.delta : null;
    this.etag = out.etag;
    this.write(delta ? delta.bytes : out.bytes, written);
    return true;
  }

  sendEvent(bytes: Uint8Array, droppable: boolean): boolean {
    if (this.blocked) {
      if (droppable) return false;
      this.queued ??= [];
      if (this.queued.length >= MAX_QUEUED_EVENTS) this.queued.shift();
      this.queued.push(bytes);
      return true;
    }
    this.write(bytes);
    return true;
  }

  /** A heartbeat: dropped while blocked (the stream is not idle then). Returns whether it was written. */
  sendHeartbeat(bytes: Uint8Array, written: () => void): boolean {
    if (this.blocked) return false;
    this.write(bytes, written);
    return true;
  }

  private write(bytes: Uint8Array, written?: () => void): void {
    if (!this.sink.write(bytes, written)) {
      this.blocked = true;
      this.sink.onDrain(() => this.drain());
    }
  }

  private drain(): void {
    this.blocked = false;
    while (this.queued?.length && !this.blocked) this.write(this.queued.shift()!);
    const p = this.pendingResolution;
    if (p && !this.blocked) {
      this.pendingResolution = null;
      this.sendResolution(p);
    }
  }
}

/** One resolution on its way to an identity's subscribers. */
interface Delivery {
  change: Change;
  identity: Identity;
  out: Outgoing;
  subscribers: Subscriber[];
  /** The next subscriber to write. */
  next: number;
  started: bigint;
}

/**
 * A change of one project on its way to its watchers. Its identities are resolved one at a time
 * as the pump reaches them, each just before its own subscribers are written: the writer's
 * answer and the first deliveries do not wait for every identity's resolution, and a newer
 * change of the project takes over the identities this one has not reached yet.
 */
interface Change {
  project: string;
  state: ProjectState;
  /** The project's identities when it changed (later ones subscribed to this state or a newer one). */
  identities: Identity[];
  next: number;
  started: bigint;
  /**
   * Deltas encoded for this change, by the etags they are from and to: equal etags mean equal
   * content, so identities with the same content (a group reaching many workloads) share one.
   */
  deltas?: Map<string, Uint8Array | null>;
}

interface Identity {
  project: string;
  workload: string;
  scope: ResolveScope;
  subscribers: Set<Subscriber>;
  /** The etag last sent to all of this identity's subscribers; null when they may differ. */
  etag: string | null;
  /** The resolution last resolved for its subscribers: what the next delta is from. */
  last: CachedResolution;
  /** How many of its subscribers asked for deltas (none: no delta is encoded). */
  deltaSubscribers: number;
}

export class WatchHub {
  /** project -> identity key -> identity */
  private readonly projects = new Map<string, Map<string, Identity>>();
  private heartbeat: NodeJS.Timeout | undefined;
  private count = 0;
  /** Project changes waiting to be resolved and written, oldest first (see pump). */
  private readonly changes: Change[] = [];
  /** The newest change of each project with one on its way: older ones stop where they are. */
  private readonly newest = new Map<string, Change>();
  /** The identity being written. */
  private delivery: Delivery | undefined;
  /**
   * The latest heartbeat, written to its subscribers when no change is on its way: with
   * thousands of streams a heartbeat is thousands of writes, and it is not urgent.
   */
  private beats: { bytes: Uint8Array; subscribers: Subscriber[]; next: number } | undefined;
  /** Fan-out writes of the current window generation not yet handed on. */
  private inFlight = 0;
  /** Bumped when a stalled window is given up: completions of older writes are then ignored. */
  private generation = 0;
  /**
   * The completion of a write of the current window generation (a transport calls it once per
   * write it was given). One function per generation, not a closure per write: completions of
   * an older generation's writes are ignored.
   */
  private written = this.completion();
  /** The pump is scheduled (next turn) or waiting for the window. */
  private pumpScheduled = false;
  private waitingForWindow: NodeJS.Timeout | undefined;

  constructor(
    private readonly snapshots: Snapshots,
    private readonly encoder: WatchEncoder,
    heartbeatMs: number,
    /** Observes how long a change took to reach every subscriber's transport (metrics). */
    private readonly onPush?: (seconds: number) => void,
  ) {
    snapshots.on('changed', (project, state) => this.projectChanged(project, state));
    if (heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.beat(), heartbeatMs);
      this.heartbeat.unref();
    }
  }

  get subscriberCount(): number {
    return this.count;
  }

  /**
   * Registers a subscriber and sends its first message: the current resolution, or
   * `unchanged` when the etag it already holds is current. Returns the subscriber, which the
   * caller hands to leave() (an object, not an unsubscribe closure: Watch streams are open by
   * the thousand and each closure costs a context, ~130 bytes).
   */
  join(state: ProjectState, workload: string, scope: ResolveScope, etag: string, sink: WatchSink, deltas = false): Subscriber {
    const project = state.snapshot.project.name;
    // The newest state, not the one the caller looked up before an await: a change published in
    // between would otherwise never reach this subscriber (it was not registered yet).
    const latest = this.snapshots.peek(project) ?? state;
    const resolution = latest.resolution(workload, scope); // NOT_FOUND before registering
    let identities = this.projects.get(project);
    if (!identities) this.projects.set(project, (identities = new Map()));
    const key = `${workload}\0${scope}`;
    let identity = identities.get(key);
    // A new identity's one subscriber holds this resolution. An existing identity's etag is left
    // alone, even when null (a delivery cut short): the next change then writes to everyone.
    if (!identity) identities.set(key, (identity = { project, workload, scope, subscribers: new Set(), etag: resolution.etag, last: resolution, deltaSubscribers: 0 }));
    const sub = new Subscriber(identity, sink, deltas);
    identity.subscribers.add(sub);
    if (deltas) identity.deltaSubscribers++;
    this.count++;
    if (etag && etag === resolution.etag) {
      sub.etag = etag;
      sub.sendEvent(this.encoder.unchanged(etag), false);
    } else sub.sendResolution({ bytes: resolution.bytes, etag: resolution.etag, delta: null });
    return sub;
  }

  /** Ends a subscription made by join (once; later calls do nothing). */
  leave(sub: Subscriber): void {
    const identity = sub.identity;
    if (!identity.subscribers.delete(sub)) return;
    if (sub.deltas) identity.deltaSubscribers--;
    this.count--;
    if (identity.subscribers.size > 0) return;
    const identities = this.projects.get(identity.project);
    const key = `${identity.workload}\0${identity.scope}`;
    if (identities?.get(key) !== identity) return;
    identities.delete(key);
    if (identities.size === 0) this.projects.delete(identity.project);
  }

  /**
   * Sends a restart event to every subscriber of the given workloads, after what a change of the
   * project on its way has still to write (a restart acts on the values it brings); returns how
   * many got it.
   */
  restart(project: string, workloads: ReadonlySet<string>, group: string, requestedBy: string): number {
    const identities = this.projects.get(project);
    if (!identities) return 0;
    this.flush(project);
    const bytes = this.encoder.restart(group, requestedBy, Date.now());
    let delivered = 0;
    for (const identity of identities.values()) {
      if (identity.scope !== 'runtime' || !workloads.has(identity.workload)) continue;
      for (const sub of identity.subscribers) if (sub.sendEvent(bytes, false)) delivered++;
    }
    return delivered;
  }

  /** Ends every stream (server shutdown) with UNAVAILABLE so that agents reconnect elsewhere. */
  closeAll(message: string): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const identities of this.projects.values()) {
      for (const identity of identities.values()) {
        for (const sub of identity.subscribers) sub.sink.fail('UNAVAILABLE', message);
      }
    }
    this.projects.clear();
    this.count = 0;
    this.changes.length = 0;
    this.newest.clear();
    this.delivery = undefined;
    this.beats = undefined;
  }

  private projectChanged(project: string, state: ProjectState | null): void {
    const identities = this.projects.get(project);
    if (!state) {
      this.newest.delete(project);
      for (const identity of identities?.values() ?? []) {
        for (const sub of identity.subscribers) sub.sink.fail('NOT_FOUND', `project ${project} was deleted`);
      }
      return;
    }
    if (!identities) return;
    const change: Change = { project, state, identities: [...identities.values()], next: 0, started: process.hrtime.bigint() };
    this.newest.set(project, change);
    this.changes.push(change);
    if (!this.pumpScheduled) this.pump();
  }

  /**
   * The next identity of the oldest change whose resolution differs from what its subscribers
   * were last sent, resolved now; undefined when no change is left. `spend` counts each
   * resolution against the pump's budget.
   */
  private nextDelivery(spend: () => boolean): Delivery | undefined {
    while (this.changes.length) {
      const change = this.changes[0]!;
      if (this.newest.get(change.project) !== change || change.next >= change.identities.length) {
        this.changes.shift();
        if (this.newest.get(change.project) === change) this.newest.delete(change.project);
        continue;
      }
      if (!spend()) return undefined;
      const delivery = this.resolveNext(change);
      if (delivery) return delivery;
    }
    return undefined;
  }

  /** Resolves the change's next identity: its delivery, or undefined when there is nothing to send. */
  private resolveNext(change: Change): Delivery | undefined {
    const identity = change.identities[change.next++]!;
    if (identity.subscribers.size === 0) return undefined;
    let resolution: CachedResolution;
    try {
      resolution = change.state.resolution(identity.workload, identity.scope);
    } catch (e) {
      // A group that cannot be expanded (stored before the size rules) fails only the
      // workloads it reaches: their streams stay open on the last resolution they received.
      if (e instanceof DomainError && e.code === 'FAILED_PRECONDITION') return undefined;
      for (const sub of identity.subscribers) sub.sink.fail('NOT_FOUND', `workload ${change.project}/${identity.workload} was deleted`);
      return undefined;
    }
    const last = identity.last;
    // The current object even when unchanged: the previous snapshot's bytes are not kept alive.
    identity.last = resolution;
    if (identity.etag === resolution.etag) return undefined; // unchanged: never re-sent
    identity.etag = resolution.etag;
    const delta = identity.deltaSubscribers > 0 && last.etag !== resolution.etag ? this.deltaOf(change, last, resolution) : null;
    const out: Outgoing = { bytes: resolution.bytes, etag: resolution.etag, delta: delta && { base: last.etag, bytes: delta } };
    return { change, identity, out, subscribers: [...identity.subscribers], next: 0, started: change.started };
  }

  private deltaOf(change: Change, from: CachedResolution, to: CachedResolution): Uint8Array | null {
    const key = `${from.etag}>${to.etag}`;
    const deltas = (change.deltas ??= new Map());
    let delta = deltas.get(key);
    if (delta === undefined) deltas.set(key, (delta = this.encoder.delta(from, to)));
    return delta;
  }

  /**
   * Writes now, in this turn and outside the budget and window, what the project's newest change
   * has not written yet: events sent next (a restart) then follow the resolution they are about.
   */
  private flush(project: string): void {
    const change = this.newest.get(project);
    if (!change) return;
    const finish = (d: Delivery) => {
      while (d.next < d.subscribers.length) {
        const sub = d.subscribers[d.next++]!;
        if (d.identity.subscribers.has(sub)) sub.sendResolution(d.out);
      }
    };
    // The current delivery is left in place, finished: the pump records it and goes on.
    if (this.delivery?.change === change) finish(this.delivery);
    while (change.next < change.identities.length) {
      const d = this.resolveNext(change);
      if (d) finish(d);
    }
  }

  /**
   * Resolves and writes queued changes in order: at most FANOUT_CHUNK resolutions and writes per
   * turn of the event loop, and at most FANOUT_WINDOW writes not yet handed on by their
   * transports.
   */
  private pump(): void {
    this.pumpScheduled = false;
    let budget = FANOUT_CHUNK;
    const spend = () => budget-- > 0;
    for (;;) {
      const d = this.delivery ?? (this.delivery = this.nextDelivery(spend));
      if (!d) {
        if (budget < 0) return this.again();
        return this.pumpBeats(spend);
      }
      if (this.newest.get(d.change.project) !== d.change) {
        // A newer change took over: it resolves this identity again and writes to every
        // subscriber that was not sent its result, which may equal this one's for some.
        d.identity.etag = null;
        this.delivery = undefined;
        continue;
      }
      if (d.next >= d.subscribers.length) {
        this.delivery = undefined;
        this.onPush?.(Number(process.hrtime.bigint() - d.started) / 1e9);
        continue;
      }
      if (this.inFlight >= FANOUT_WINDOW) return this.waitForWindow();
      if (!spend()) return this.again();
      const sub = d.subscribers[d.next++]!;
      if (d.identity.subscribers.has(sub)) this.write(sub, d.out);
    }
  }

  /** Heartbeats, within the same budget and window as changes, after them. */
  private pumpBeats(spend: () => boolean): void {
    const b = this.beats;
    while (b && b.next < b.subscribers.length) {
      if (this.inFlight >= FANOUT_WINDOW) return this.waitForWindow();
      if (!spend()) return this.again();
      const sub = b.subscribers[b.next++]!;
      if (sub.identity.subscribers.has(sub)) this.write(sub, b.bytes);
    }
    this.beats = undefined;
  }

  /** One write counted in the window: a resolution or a heartbeat (bytes). */
  private write(sub: Subscriber, what: Outgoing | Uint8Array): void {
    const written = this.written;
    if (what instanceof Uint8Array ? sub.sendHeartbeat(what, written) : sub.sendResolution(what, written)) this.inFlight++;
  }

  private completion(): () => void {
    const generation = this.generation;
    return () => {
      if (generation !== this.generation) return;
      this.inFlight--;
      // Half the window free: go on (writes complete in bursts as the socket drains).
      if (this.waitingForWindow && this.inFlight <= FANOUT_WINDOW / 2) this.resume();
    };
  }

  /** The budget of this turn is spent: go on in the next one. */
  private again(): void {
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  private waitForWindow(): void {
    this.pumpScheduled = true;
    this.waitingForWindow = setTimeout(() => {
      // Completions stopped coming (calls ended, readers stalled): start a new window.
      this.generation++;
      this.written = this.completion();
      this.inFlight = 0;
      this.resume();
    }, FANOUT_STALL_MS);
    this.waitingForWindow.unref(); // a fan-out in progress must not keep a stopping process alive
  }

  private resume(): void {
    clearTimeout(this.waitingForWindow);
    this.waitingForWindow = undefined;
    // Not from inside a transport's completion callback: next turn.
    setImmediate(() => this.pump());
  }

  /** Queues a heartbeat for every subscriber (replacing one not finished yet) and starts writing it. */
  beat(): void {
    const subscribers: Subscriber[] = [];
    for (const identities of this.projects.values()) {
      for (const identity of identities.values()) for (const sub of identity.subscribers) subscribers.push(sub);
    }
    if (subscribers.length === 0) return;
    this.beats = { bytes: this.encoder.heartbeat(Date.now()), subscribers, next: 0 };
    if (!this.pumpScheduled) this.pump();
  }
}
