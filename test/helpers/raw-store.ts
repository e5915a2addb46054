/**
 * Direct writes to the embedded store's file, bypassing the API: to make data the API no longer
 * accepts, such as a config group that links an addon (from before links needed a secret group).
 * Group types are stored in clear and are not bound into any ciphertext, so this stays readable.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { GroupType } from '../../server/domain/types.js';

export function retypeGroupRaw(dataDir: string, project: string, name: string, type: GroupType): void {
  const db = new Database(join(dataDir, 'sg.db'), { fileMustExist: true });
  try {
    const row = db.prepare("SELECT data FROM records WHERE kind = 'group' AND project = ? AND name = ?").get(project, name) as { data: string } | undefined;
    if (!row) throw new Error(`no stored group ${project}/${name}`);
    const doc = JSON.parse(row.data) as { type: GroupType };
    doc.type = type;
    db.prepare("UPDATE records SET data = ? WHERE kind = 'group' AND project = ? AND name = ?").run(JSON.stringify(doc), project, name);
  } finally {
    db.close();
  }
}
