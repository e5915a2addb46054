/** The change preview: which workloads' resolutions a change alters, keys only. */
import { call, type DeepPartial } from '../api.js';
import { SecretGroupServiceDefinition, type PreviewChangeRequest, type WorkloadChange } from '../gen.js';
import { scopeName } from '../format.js';
import { useLive } from '../hooks.js';
import { href } from '../router.js';
import { ErrorBox, Loading, TableHead } from '../ui.js';

/** Previews several changes (each against the current state) and merges them per workload and scope. */
export async function previewAll(changes: DeepPartial<PreviewChangeRequest>[]): Promise<WorkloadChange[]> {
  const all = await Promise.all(changes.map((c) => call(SecretGroupServiceDefinition, 'previewChange', c)));
  const merged = new Map<string, WorkloadChange>();
  for (const res of all) {
    for (const c of res.changes) {
      const id = `${c.workload}\0${c.scope}`;
      const m = merged.get(id);
      if (!m) {
        merged.set(id, { ...c, addedKeys: [...c.addedKeys], removedKeys: [...c.removedKeys], changedKeys: [...c.changedKeys] });
        continue;
      }
      for (const f of ['addedKeys', 'removedKeys', 'changedKeys', 'addedFiles', 'removedFiles', 'changedFiles'] as const) {
        m[f] = [...new Set([...m[f], ...c[f]])];
      }
    }
  }
  return [...merged.values()].sort((a, b) => a.workload.localeCompare(b.workload) || a.scope - b.scope);
}

export function PreviewList({ changes }: { changes: WorkloadChange[] }) {
  if (changes.length === 0) return <p class="muted">No workload's resolution changes.</p>;
  return (
    <table class="list preview" aria-label="Change preview">
      <TableHead cols={['Workload', 'Scope', 'Added', 'Changed', 'Removed']} />
      <tbody>
        {changes.map((c) => (
          <tr data-workload={c.workload}>
            <td>{c.workload}</td>
            <td>{scopeName(c.scope)}</td>
            <td>{[...c.addedKeys, ...c.addedFiles].map((k) => <code class="key added">{k}</code>)}</td>
            <td>{[...c.changedKeys, ...c.changedFiles].map((k) => <code class="key changed">{k}</code>)}</td>
            <td>{[...c.removedKeys, ...c.removedFiles].map((k) => <code class="key removed">{k}</code>)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** What a pending destructive change (remove a file, unlink an addon, roll back) does to the workloads, asked of the server when its confirmation opens. */
export function PreviewOf({ change }: { change: DeepPartial<PreviewChangeRequest> }) {
  const res = useLive(async () => (await call(SecretGroupServiceDefinition, 'previewChange', change)).changes, [JSON.stringify(change)], false);
  if (!res.data) return res.error ? <ErrorBox error={res.error} /> : <Loading what="the workloads it affects" />;
  return <PreviewList changes={res.data} />;
}

/** How a change written as a new revision is undone: the history keeps the revision before it. */
export function UndoByRollback({ project, group, revision }: { project: string; group: string; revision: number }) {
  return (
    <p class="undo">
      The history keeps revision {revision}: to undo, roll back to it on the <a href={href.group(project, group, 'history')}>History</a> tab.
    </p>
  );
}
