/**
 * A raw dump of the embedded store's data tables (records, history, projects, tokens) read
 * through a second read-only connection: equal dumps mean nothing was written.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';

export function dumpStore(dataDir: string): string {
  const db = new Database(join(dataDir, 'sg.db'), { readonly: true, fileMustExist: true });
  try {
    const tables = ['projects', 'records', 'group_history', 'tokens', 'meta'];
    return JSON.stringify(tables.map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()));
  } finally {
    db.close();
  }
}
