/**
 * Records to and from JSON-safe documents, shared by both stores: file contents travel as
 * base64, everything else as is. SCHEMA_VERSION is written with each document.
 */
import type { GroupHistoryEntry, Project, SecretFile, SecretGroup } from '../domain/types.js';
import type { RecordKind, RecordTypes } from './store.js';

export const SCHEMA_VERSION = 1;

type FileDoc = { path: string; content: string; mode: number };

export function encodeRecord<K extends RecordKind>(kind: K, record: RecordTypes[K]): Record<string, unknown> {
  if (kind !== 'group') return { ...record };
  const g = record as SecretGroup;
  return { ...g, files: g.files.map(encodeFile) };
}

export function decodeRecord<K extends RecordKind>(kind: K, doc: Record<string, unknown>): RecordTypes[K] {
  const { schemaVersion: _v, _id: _i, ...rest } = doc as Record<string, unknown> & { schemaVersion?: number; _id?: unknown };
  if (kind !== 'group') return rest as unknown as RecordTypes[K];
  return { ...rest, files: (rest.files as FileDoc[]).map(decodeFile) } as unknown as RecordTypes[K];
}

export function encodeHistory(entry: GroupHistoryEntry): Record<string, unknown> {
  return { ...entry, group: entry.group ? encodeRecord('group', entry.group) : null };
}

export function decodeHistory(doc: Record<string, unknown>): GroupHistoryEntry {
  const { _id: _i, schemaVersion: _v, ...rest } = doc as Record<string, unknown>;
  const group = rest.group ? decodeRecord('group', rest.group as Record<string, unknown>) : null;
  return { ...(rest as unknown as GroupHistoryEntry), group };
}

function encodeFile(f: SecretFile): FileDoc {
  return { path: f.path, content: Buffer.from(f.content).toString('base64'), mode: f.mode };
}

function decodeFile(f: FileDoc): SecretFile {
  return { path: f.path, content: Buffer.from(f.content, 'base64'), mode: f.mode };
}

/** A project with its own execution-controlling keys, the field absent when there are none (as stored before it existed). */
export function withExecutionKeys(project: Project, keys: readonly string[] | undefined): Project {
  return keys?.length ? { ...project, executionKeys: [...keys] } : { name: project.name, createdAt: project.createdAt };
}

/** Same lists, in the same order (stores keep them sorted). */
export function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}
