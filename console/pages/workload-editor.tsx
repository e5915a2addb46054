/**
 * A workload's tags, own runtime variables and build arguments, edited like a group: change,
 * review what the save will do (keys only), then save (UpdateWorkload, against the revision the
 * edit started from). Project admins only, as the server requires. The editor never holds a
 * stored value: the workload is read keys-only, a value is sent only when typed, and an
 * existing value is kept unless replaced.
 */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { ProjectServiceDefinition, type Workload } from '../gen.js';
import { useAction } from '../hooks.js';
import { ErrorBox, Field, Notice, ReviewActions } from '../ui.js';
import { changeOf, isEmpty, newRow, problems, rowsOf, type Change, type Row } from './kv-model.js';

const splitTags = (text: string) => [...new Set(text.split(/[\s,]+/).filter(Boolean))].sort();

export function WorkloadEditor({ project, workload, onSaved }: { project: string; workload: Workload; onSaved: (message: string) => void }) {
  const [open, setOpen] = useState(false);
  return (
    <section aria-label="Edit workload">
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
        Edit tags and variables
      </button>
      {open ? (
        <Editor
          project={project}
          workload={workload}
          onSaved={(m) => {
            setOpen(false);
            onSaved(m);
          }}
        />
      ) : null}
    </section>
  );
}

function Editor({ project, workload, onSaved }: { project: string; workload: Workload; onSaved: (message: string) => void }) {
  // Started from this revision: a save against a newer one is refused, keeping the input.
  const [base] = useState(workload);
  const [tags, setTags] = useState(base.tags.join(' '));
  const [runtime, setRuntime] = useState<Row[]>(() => rowsOf(base.runtimeVariables, true));
  const [build, setBuild] = useState<Row[]>(() => rowsOf(base.buildArguments, true));
  const [review, setReview] = useState(false);
  const [busy, error, run] = useAction();
  const newTags = splitTags(tags);
  const added = newTags.filter((t) => !base.tags.includes(t));
  const dropped = base.tags.filter((t) => !newTags.includes(t));
  const rt = changeOf(runtime);
  const ba = changeOf(build);
  const bad = new Map([...problems(runtime), ...problems(build)]);
  const dirty = added.length > 0 || dropped.length > 0 || !isEmpty(rt) || !isEmpty(ba);
  const edit = (fn: () => void) => (fn(), setReview(false));
  return (
    <form
      class="tab-body"
      aria-label="Workload editor"
      onSubmit={(e) => {
        e.preventDefault();
        if (dirty && bad.size === 0) setReview(true);
      }}
    >
      {workload.revision > base.revision ? (
        <Notice>This workload changed elsewhere (now revision {workload.revision}); saving your edits will be refused. Close the editor to start over.</Notice>
      ) : null}
      <Field label="Tags" hint="separated by spaces or commas">
        <input value={tags} onInput={(e) => edit(() => setTags(e.currentTarget.value))} />
      </Field>
      <div class="two-col">
        <KvRows title="Own runtime variables" prefix="Runtime" rows={runtime} setRows={(r) => edit(() => setRuntime(r))} problems={bad} />
        <KvRows title="Build arguments" prefix="Build" rows={build} setRows={(r) => edit(() => setBuild(r))} problems={bad} />
      </div>
      <div class="actions">
        <button type="submit" class="primary" disabled={!dirty || bad.size > 0 || busy}>
          Review changes
        </button>
      </div>
      {review ? (
        <div class="confirm" role="region" aria-label="Review changes">
          <h3>Before saving</h3>
          <ul>
            {added.length ? <li>Tags added: {added.map((t) => <span class="tag">{t}</span>)}</li> : null}
            {dropped.length ? <li>Tags removed: {dropped.map((t) => <span class="tag">{t}</span>)}</li> : null}
            <ChangeLines what="runtime variables" c={rt} existing={base.runtimeVariables} />
            <ChangeLines what="build arguments" c={ba} existing={base.buildArguments} />
          </ul>
          <p class="muted small">Own variables override every group for this workload; its agents pick the change up at once.</p>
          <ReviewActions
            busy={busy}
            onBack={() => setReview(false)}
            onSave={async () => {
              const tagsChanged = added.length > 0 || dropped.length > 0;
              const res = await run(() =>
                call(ProjectServiceDefinition, 'updateWorkload', {
                  project,
                  name: base.name,
                  expectedRevision: base.revision,
                  replaceTags: tagsChanged,
                  tags: tagsChanged ? newTags : [],
                  setRuntimeVariables: rt.set,
                  unsetRuntimeVariables: rt.unset,
                  setBuildArguments: ba.set,
                  unsetBuildArguments: ba.unset,
                }),
              );
              setReview(false);
              if (res) onSaved(res.unchanged ? `Workload ${base.name}: nothing changed.` : `Saved: workload ${base.name} is now at revision ${res.workload?.revision}.`);
            }}
          />
        </div>
      ) : null}
      <ErrorBox error={error} />
    </form>
  );
}

function ChangeLines({ what, c, existing }: { what: string; c: Change; existing: Record<string, string> }) {
  const set = Object.keys(c.set);
  const added = set.filter((k) => !(k in existing));
  const changed = set.filter((k) => k in existing);
  const keys = (ks: string[]) => ks.map((k) => <code class="key">{k}</code>);
  return (
    <>
      {added.length ? <li>Added {what}: {keys(added)}</li> : null}
      {changed.length ? <li>Changed {what}: {keys(changed)}</li> : null}
      {c.unset.length ? <li>Removed {what}: {keys(c.unset)}</li> : null}
    </>
  );
}

/** Key and value inputs; an existing value stays as stored unless a new one is typed. */
function KvRows({ title, prefix, rows, setRows, problems }: { title: string; prefix: string; rows: Row[]; setRows: (r: Row[]) => void; problems: Map<number, string> }) {
  const update = (id: number, patch: Partial<Row>) => setRows(rows.map((r) => (r.id === id ? { ...r, ...patch } : r)));
  return (
    <fieldset>
      <legend>{title}</legend>
      <table class="kv-editor" aria-label={`${title} editor`}>
        <tbody>
          {rows.map((r, i) => (
            <tr class={r.removed ? 'removed' : ''}>
              <td>
                <input
                  aria-label={`${prefix} key ${i + 1}`}
                  value={r.key}
                  disabled={r.removed}
                  aria-invalid={problems.has(r.id) ? true : undefined}
                  onInput={(e) => update(r.id, { key: e.currentTarget.value })}
                />
                {problems.has(r.id) ? <span class="error small">{problems.get(r.id)}</span> : null}
              </td>
              <td>
                <input
                  aria-label={`${prefix} value ${i + 1}`}
                  value={r.value}
                  disabled={r.removed}
                  placeholder={r.orig !== undefined && !r.edited ? 'unchanged (type to replace)' : ''}
                  onInput={(e) => update(r.id, { value: e.currentTarget.value, known: true, edited: true })}
                />
              </td>
              <td>
                <button type="button" class="link" aria-label={`${r.removed ? 'Keep' : 'Remove'} ${prefix.toLowerCase()} ${r.key || i + 1}`} onClick={() => update(r.id, { removed: !r.removed })}>
                  {r.removed ? 'Keep' : 'Remove'}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={() => setRows([...rows, newRow()])}>
        Add {prefix.toLowerCase()} {prefix === 'Build' ? 'argument' : 'variable'}
      </button>
    </fieldset>
  );
}
