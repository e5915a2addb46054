/**
 * Read-modify-write of one stored record with optimistic concurrency: a caller's
 * expected_revision is checked against the stored one; without one, a lost race is retried
 * on the fresh record, so no concurrent update is ever silently overwritten.
 */
import { DomainError, notFound, stale } from '../domain/errors.js';
import type { RecordKind, RecordTypes, Store } from '../store/store.js';
import { MAX_WRITE_ATTEMPTS } from './deps.js';

export async function updateWithRetry<K extends RecordKind>(
  store: Store,
  kind: K,
  project: string,
  name: string,
  expectedRevision: number,
  apply: (current: RecordTypes[K]) => RecordTypes[K] | Promise<RecordTypes[K]>,
  write: (next: RecordTypes[K], current: RecordTypes[K]) => Promise<number> = (next) => store.updateRecord(kind, next),
): Promise<{ before: RecordTypes[K]; after: RecordTypes[K]; version: number }> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.getRecord(kind, project, name);
    if (!current) throw notFound(`${kind} ${project}/${name}`);
    if (expectedRevision && current.revision !== expectedRevision) {
      throw stale(`${kind} ${project}/${name}`, expectedRevision, current.revision);
    }
    const next = await apply(current);
    try {
      const version = await write(next, current);
      return { before: current, after: next, version };
    } catch (e) {
      const lostRace = e instanceof DomainError && e.code === 'ABORTED';
      if (!lostRace || expectedRevision || attempt >= MAX_WRITE_ATTEMPTS) throw e;
    }
  }
}

/** The revision the store expects for a conditional delete, with the same rules. */
export async function currentFor<K extends RecordKind>(
  store: Store,
  kind: K,
  project: string,
  name: string,
  expectedRevision: number,
): Promise<RecordTypes[K]> {
  const current = await store.getRecord(kind, project, name);
  if (!current) throw notFound(`${kind} ${project}/${name}`);
  if (expectedRevision && current.revision !== expectedRevision) {
    throw stale(`${kind} ${project}/${name}`, expectedRevision, current.revision);
  }
  return current;
}
