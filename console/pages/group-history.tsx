/**
 * A group's revisions (the newest page, then older pages on request: ListGroupHistory is
 * paged), a diff between any two of them, and rollback.
 */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { GroupType, SecretGroupServiceDefinition, type GroupRevision, type SecretGroup } from '../gen.js';
import { time } from '../format.js';
import { useAction, useLive } from '../hooks.js';
import { Confirm, ErrorBox, Field, Loading, TableHead } from '../ui.js';
import type { GroupTabProps } from './group-tab.js';
import { describeRevision } from '../../client/history-wording.js';
import { PreviewOf, UndoByRollback } from './preview.js';

export function HistoryTab({ project, group, writable, onSaved }: GroupTabProps) {
  const history = useLive(
    () => call(SecretGroupServiceDefinition, 'listGroupHistory', { project, name: group.name, keysOnly: true }),
    [project, group.name, group.revision],
    false,
  );
  // Older pages loaded with the button, for this revision of the group only.
  const pageKey = `${project}/${group.name}/${group.revision}`;
  const [older, setOlder] = useState<{ key: string; revisions: GroupRevision[]; next: number } | null>(null);
  const [from, setFrom] = useState<number | undefined>(undefined);
  const [to, setTo] = useState<number | undefined>(undefined);
  const [rollback, setRollback] = useState<number | undefined>(undefined);
  const [busy, error, run] = useAction();
  const pages = older?.key === pageKey ? older : null;
  const revs = [...(history.data?.revisions ?? []), ...(pages?.revisions ?? [])].sort((a, b) => b.revision - a.revision);
  if (!history.data) return history.error ? <ErrorBox error={history.error} /> : <Loading what="history" />;
  const next = pages ? pages.next : history.data.nextBeforeRevision;
  const oldestKept = history.data.oldestKeptRevision;
  const loadOlder = () =>
    run(async () => {
      const res = await call(SecretGroupServiceDefinition, 'listGroupHistory', { project, name: group.name, keysOnly: true, beforeRevision: next });
      setOlder({ key: pageKey, revisions: [...(pages?.revisions ?? []), ...res.revisions], next: res.nextBeforeRevision });
    });
  const toRev = to ?? revs[0]?.revision;
  const fromRev = from ?? revs[1]?.revision ?? revs[0]?.revision;
  return (
    <div class="tab-body">
      <div class="diff-pick" role="group" aria-label="Compare revisions">
        <Field label="From revision">
          <select value={fromRev} onChange={(e) => setFrom(Number(e.currentTarget.value))}>
            {revs.map((r) => (
              <option value={r.revision}>{r.revision}</option>
            ))}
          </select>
        </Field>
        <Field label="To revision">
          <select value={toRev} onChange={(e) => setTo(Number(e.currentTarget.value))}>
            {revs.map((r) => (
              <option value={r.revision}>{r.revision}</option>
            ))}
          </select>
        </Field>
      </div>
      {fromRev !== undefined && toRev !== undefined ? <DiffView project={project} group={group} from={fromRev} to={toRev} /> : null}
      <h3>Revisions</h3>
      <table class="list" aria-label="Revisions">
        <TableHead cols={[['Revision', 'num'], 'Time', 'By', 'What changed']} actions />
        <tbody>
          {revs.map((r) => (
            <tr data-revision={r.revision}>
              <td class="num">{r.revision}</td>
              <td class="nowrap">{time(r.timeMs)}</td>
              <td>{r.actor}</td>
              <td title={r.action}>{describeRevision(r)}</td>
              <td>
                {writable && r.revision !== group.revision && !r.deleted ? (
                  <button type="button" class="link" aria-label={`Roll back to revision ${r.revision}`} onClick={() => setRollback(r.revision)}>
                    Roll back to this
                  </button>
                ) : r.revision === group.revision ? (
                  <span class="muted small">current</span>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {next ? (
        <p>
          <button type="button" class="link" disabled={busy} onClick={() => void loadOlder()}>
            Older revisions
          </button>
        </p>
      ) : oldestKept > 1 ? (
        <p class="muted small">Revisions before {oldestKept} were pruned by the history budget.</p>
      ) : null}
      {rollback !== undefined ? (
        <Confirm
          confirmLabel={`Roll back to revision ${rollback}`}
          busy={busy}
          onCancel={() => setRollback(undefined)}
          onConfirm={async () => {
            const res = await run(() =>
              call(SecretGroupServiceDefinition, 'rollbackGroup', { project, name: group.name, expectedRevision: group.revision, toRevision: rollback }),
            );
            setRollback(undefined);
            if (res) onSaved(res.group, `rolled back to revision ${rollback}`);
          }}
        >
          <p>
            Write a new revision of <strong>{group.name}</strong> whose content equals revision {rollback}? Changes since then:
          </p>
          <DiffView project={project} group={group} from={group.revision} to={rollback} />
          <p>What the workloads it reaches see change:</p>
          <PreviewOf change={{ rollbackGroup: { project, name: group.name, expectedRevision: group.revision, toRevision: rollback } }} />
          <UndoByRollback project={project} group={group.name} revision={group.revision} />
        </Confirm>
      ) : null}
      <ErrorBox error={error} />
    </div>
  );
}

function DiffView({ project, group, from, to }: { project: string; group: SecretGroup; from: number; to: number }) {
  // Values of secret groups only on request (each such diff is an audited read).
  const [withValues, setWithValues] = useState(false);
  const mayRead = group.type === GroupType.GROUP_TYPE_CONFIG || withValues;
  const diff = useLive(
    () => call(SecretGroupServiceDefinition, 'diffGroupRevisions', { project, name: group.name, fromRevision: from, toRevision: to, keysOnly: !mayRead }),
    [project, group.name, from, to, mayRead],
    false,
  );
  const d = diff.data;
  if (!d) return diff.error ? <ErrorBox error={diff.error} /> : <Loading what="the diff" />;
  const none = !d.addedKeys.length && !d.removedKeys.length && !d.changedKeys.length && !d.settings.length && !d.addedFiles.length && !d.removedFiles.length && !d.changedFiles.length;
  const val = (m: Record<string, string>, k: string) => (d.valuesRedacted || !(k in m) ? null : <> = <code class="value">{m[k]}</code></>);
  return (
    <div class="diff" aria-label={`Diff from revision ${d.fromRevision} to ${d.toRevision}`} role="region">
      {group.type === GroupType.GROUP_TYPE_SECRET ? (
        <label class="check">
          <input type="checkbox" checked={withValues} onChange={(e) => setWithValues(e.currentTarget.checked)} /> Show values (an audited read)
        </label>
      ) : null}
      {none ? <p class="muted">No difference.</p> : null}
      <ul>
        {d.addedKeys.map((k) => (
          <li class="added">
            + <code>{k}</code>
            {val(d.toValues, k)}
          </li>
        ))}
        {d.removedKeys.map((k) => (
          <li class="removed">
            − <code>{k}</code>
            {val(d.fromValues, k)}
          </li>
        ))}
        {d.changedKeys.map((k) => (
          <li class="changed">
            ~ <code>{k}</code>
            {!d.valuesRedacted && k in d.fromValues && k in d.toValues ? (
              <>
                : <code class="value">{d.fromValues[k]}</code> → <code class="value">{d.toValues[k]}</code>
              </>
            ) : (
              <span class="muted"> (value changed)</span>
            )}
          </li>
        ))}
        {d.addedFiles.map((f) => (
          <li class="added">
            + file <code>{f}</code>
          </li>
        ))}
        {d.removedFiles.map((f) => (
          <li class="removed">
            − file <code>{f}</code>
          </li>
        ))}
        {d.changedFiles.map((f) => (
          <li class="changed">
            ~ file <code>{f}</code>
          </li>
        ))}
        {d.settings.map((c) => (
          <li class="changed">
            ~ {c.name}: {c.from || '—'} → {c.to || '—'}
          </li>
        ))}
      </ul>
    </div>
  );
}
