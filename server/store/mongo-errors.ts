/**
 * How the MongoDB store reads the driver's errors: a duplicate _id (the commit primitive the
 * store trusts, `mongo-store.ts`), the per-document errors of a bulk write, and connection-level
 * failures, which become UNAVAILABLE with a message that names no host, URI or value.
 */
import {
  MongoBulkWriteError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { DomainError } from '../domain/errors.js';

/** The server's code for a duplicate key. */
const DUPLICATE_KEY = 11000;

/** Whether an error is a duplicate key (another writer inserted that _id first). */
export function isDuplicate(e: unknown): boolean {
  return e instanceof MongoServerError && e.code === DUPLICATE_KEY;
}

/** Resolves true when the write happened, false on a duplicate key; other errors propagate. */
export async function ignoreDuplicate(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (e) {
    if (isDuplicate(e)) return false;
    throw e;
  }
}

/** The server's codes for dropping an index that does not exist: NamespaceNotFound (no collection), IndexNotFound. */
const NO_SUCH_INDEX = new Set([26, 27]);

/** Resolves once the index is gone: dropped now, or there was none. */
export async function ignoreIndexNotFound(drop: Promise<unknown>): Promise<void> {
  try {
    await drop;
  } catch (e) {
    if (!(e instanceof MongoServerError && typeof e.code === 'number' && NO_SUCH_INDEX.has(e.code))) throw e;
  }
}

/**
 * The driver wraps a failure that is not about one document (no server, a lost connection)
 * in a MongoBulkWriteError without write errors; the original is its errorResponse.
 */
export function unwrapBulk(e: unknown): unknown {
  if (e instanceof MongoBulkWriteError && writeErrorsOf(e).length === 0 && e.errorResponse instanceof Error) return e.errorResponse;
  return e;
}

/** The write errors of a bulk write, as a list (the driver gives one or many). */
export function writeErrorsOf(e: MongoBulkWriteError): { index: number; code: number }[] {
  const w = e.writeErrors as unknown;
  return (Array.isArray(w) ? w : w ? [w] : []) as { index: number; code: number }[];
}

/** Whether a bulk write failed only because some of its documents were there already. */
export function onlyDuplicates(e: unknown): boolean {
  const errors = e instanceof MongoBulkWriteError ? writeErrorsOf(e) : [];
  return errors.length > 0 && errors.every((w) => w.code === DUPLICATE_KEY);
}

/**
 * For an ordered bulk insert that failed: how many documents went in before the first refused
 * one, and whether that one was refused as a duplicate. Null for a failure that is not about
 * one document (then nothing is known to have been inserted by this call).
 */
export function orderedInsertFailure(e: unknown): { inserted: number; duplicate: boolean } | null {
  const first = e instanceof MongoBulkWriteError ? writeErrorsOf(e)[0] : undefined;
  if (!first) return null;
  return { inserted: Math.min(first.index, (e as MongoBulkWriteError).insertedCount), duplicate: first.code === DUPLICATE_KEY };
}

/** For an unordered bulk insert: per document, its error or null; throws a failure that is not about documents. */
export function unorderedInsertErrors(e: unknown, count: number): unknown[] {
  if (!(e instanceof MongoBulkWriteError) || writeErrorsOf(e).length === 0) throw unwrapBulk(e);
  const errors: unknown[] = Array.from({ length: count }, () => null);
  for (const w of writeErrorsOf(e)) errors[w.index] = e;
  return errors;
}

const UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/**
 * Socket errors the driver may let through as they are when the server goes away mid-write
 * (seen: "This socket has been ended by the other party", EPIPE, while FerretDB stopped).
 */
const SOCKET_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT']);

/** Connection-level failures become UNAVAILABLE; the message names no host, URI or value. */
export function toDomainError(error: unknown): unknown {
  const e = unwrapBulk(error);
  if (e instanceof DomainError) return e;
  const unavailable =
    e instanceof MongoServerSelectionError ||
    e instanceof MongoNetworkError ||
    e instanceof MongoNotConnectedError ||
    e instanceof MongoTopologyClosedError ||
    (e instanceof Error && SOCKET_CODES.has(String((e as NodeJS.ErrnoException).code))) ||
    (e instanceof MongoServerError && typeof e.code === 'number' && UNAVAILABLE_CODES.has(e.code));
  if (unavailable) {
    return new DomainError('UNAVAILABLE', `the MongoDB store is unavailable (${(e as Error).name}); retry later`);
  }
  return e;
}

/** Runs a store operation, turning an unreachable server into UNAVAILABLE. */
export async function guard<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw toDomainError(e);
  }
}
