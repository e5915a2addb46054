/** Type, scope, priority, restrictions and description, with the change preview before saving. */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api.js';
import { GroupType, Scope, SecretGroupServiceDefinition, type WorkloadChange } from '../gen.js';
import { useAction } from '../hooks.js';
import { Confirm, ErrorBox, Field, Notice, ReviewActions, setFlash } from '../ui.js';
import { href, navigate } from '../router.js';
import { useWorkloads, type GroupTabProps } from './group-tab.js';
import { PreviewList } from './preview.js';

interface Form {
  description: string;
  type: GroupType;
  scope: Scope;
  priority: string;
  restricted: boolean;
  workloads: string[];
  tags: string[];
}

const formOf = (g: GroupTabProps['group']): Form => ({
  description: g.description,
  type: g.type,
  scope: g.scope,
  priority: String(g.priority),
  restricted: !!g.restrictions?.restricted,
  workloads: [...(g.restrictions?.workloads ?? [])],
  tags: [...(g.restrictions?.tags ?? [])],
});

const toggle = (list: string[], v: string, on: boolean) => (on ? [...new Set([...list, v])] : list.filter((x) => x !== v));

export function SettingsTab({ project, group, writable, version, onSaved }: GroupTabProps) {
  const workloads = useWorkloads(project, version);
  const [form, setForm] = useState<Form>(() => formOf(group));
  const [base, setBase] = useState(group.revision);
  const [baseForm, setBaseForm] = useState<Form>(() => formOf(group));
  const [preview, setPreview] = useState<WorkloadChange[] | undefined>(undefined);
  const [busy, error, run, clearError] = useAction();
  const dirty = JSON.stringify(form) !== JSON.stringify(baseForm);
  const load = (g: GroupTabProps['group']) => (setForm(formOf(g)), setBaseForm(formOf(g)), setBase(g.revision), setPreview(undefined));
  // Follow changes made elsewhere, unless that would throw away what the user typed.
  useEffect(() => {
    if (group.revision > base && !dirty) load(group);
  }, [group.revision, dirty]);
  const set = (patch: Partial<Form>) => (setForm({ ...form, ...patch }), setPreview(undefined));
  const allTags = [...new Set([...(workloads.data ?? []).flatMap((w) => w.tags), ...form.tags])].sort();
  const allWorkloads = [...new Set([...(workloads.data ?? []).map((w) => w.name), ...form.workloads])].sort();
  const request = () => ({
    project,
    name: group.name,
    expectedRevision: base,
    description: form.description,
    type: form.type,
    scope: form.scope,
    priority: Number(form.priority),
    restrictions: { restricted: form.restricted, workloads: form.restricted ? form.workloads : [], tags: form.restricted ? form.tags : [] },
  });
  return (
    <>
      <form
        class="tab-body settings"
        aria-label="Group settings"
        onSubmit={async (e) => {
          e.preventDefault();
          clearError();
          const p = await run(async () => (await call(SecretGroupServiceDefinition, 'previewChange', { updateGroupSettings: request() })).changes);
          if (p) setPreview(p);
        }}
      >
        {group.revision > base ? <Notice>This group changed elsewhere (now revision {group.revision}); your edits are kept, but saving them will be refused; discard them to load the new settings.</Notice> : null}
        <fieldset disabled={!writable}>
          <Field label="Description">
            <input value={form.description} onInput={(e) => set({ description: e.currentTarget.value })} />
          </Field>
          <Field label="Type" hint="secret: values need secret permissions; config: configuration anyone with config access may read">
            <select value={form.type} onChange={(e) => set({ type: Number(e.currentTarget.value) as GroupType })}>
              <option value={GroupType.GROUP_TYPE_SECRET}>secret</option>
              <option value={GroupType.GROUP_TYPE_CONFIG}>config</option>
            </select>
          </Field>
          <Field label="Scope">
            <select value={form.scope} onChange={(e) => set({ scope: Number(e.currentTarget.value) as Scope })}>
              <option value={Scope.SCOPE_BOTH}>both (runtime and build)</option>
              <option value={Scope.SCOPE_RUNTIME}>runtime</option>
              <option value={Scope.SCOPE_BUILD}>build</option>
            </select>
          </Field>
          <Field label="Priority" hint="0 to 100; higher wins on conflicting keys">
            <input type="number" min={0} max={100} value={form.priority} onInput={(e) => set({ priority: e.currentTarget.value })} />
          </Field>
          <label class="check">
            <input type="checkbox" checked={form.restricted} onChange={(e) => set({ restricted: e.currentTarget.checked })} /> Restricted: reaches only the
            workloads and tags picked below
          </label>
          {form.restricted ? (
            <div class="pickers">
              <fieldset>
                <legend>Workloads</legend>
                {allWorkloads.map((w) => (
                  <label class="check">
                    <input type="checkbox" checked={form.workloads.includes(w)} onChange={(e) => set({ workloads: toggle(form.workloads, w, e.currentTarget.checked) })} /> {w}
                  </label>
                ))}
                {allWorkloads.length === 0 ? <p class="muted">No workload in this project.</p> : null}
              </fieldset>
              <fieldset>
                <legend>Tags</legend>
                {allTags.map((t) => (
                  <label class="check">
                    <input type="checkbox" aria-label={`Tag ${t}`} checked={form.tags.includes(t)} onChange={(e) => set({ tags: toggle(form.tags, t, e.currentTarget.checked) })} />{' '}
                    <span class="tag">{t}</span>
                  </label>
                ))}
                {allTags.length === 0 ? <p class="muted">No workload carries a tag.</p> : null}
              </fieldset>
            </div>
          ) : null}
        </fieldset>
        {writable ? (
          <div class="actions">
            <button type="submit" class="primary" disabled={busy || !dirty}>
              Review changes
            </button>
            {dirty ? (
              <button type="button" onClick={() => (load(group), clearError())}>
                Discard edits
              </button>
            ) : null}
          </div>
        ) : null}
        {preview ? (
          <div class="confirm" role="region" aria-label="Review changes">
            <h3>Before saving</h3>
            <PreviewList changes={preview} />
            <ReviewActions
              busy={busy}
              onBack={() => setPreview(undefined)}
              onSave={async () => {
                const res = await run(() => call(SecretGroupServiceDefinition, 'updateGroupSettings', request()));
                setPreview(undefined);
                if (res?.group) {
                  load(res.group);
                  onSaved(res.group, 'settings');
                }
              }}
            />
          </div>
        ) : null}
        <ErrorBox error={error} />
      </form>
      {writable ? <RenameForm project={project} group={group} /> : null}
    </>
  );
}

/** Renaming keeps the group's content and history under the new name; the page follows it. */
function RenameForm({ project, group }: { project: string; group: GroupTabProps['group'] }) {
  const [name, setName] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [busy, error, run] = useAction();
  const problem = name && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name) ? 'Lower-case letters, digits and "-" (a DNS label).' : undefined;
  return (
    <form
      class="inline"
      aria-label="Rename group"
      onSubmit={(e) => {
        e.preventDefault();
        if (name && !problem) setConfirming(true);
      }}
    >
      <h3>Rename</h3>
      <Field label="New name" hint={problem ?? 'the history moves with the group; the old name becomes free'}>
        <input value={name} required onInput={(e) => (setName(e.currentTarget.value.trim()), setConfirming(false))} aria-invalid={problem ? true : undefined} />
      </Field>
      <button type="submit" disabled={busy || !name || !!problem || name === group.name}>
        Rename
      </button>
      {confirming ? (
        <Confirm
          confirmLabel={`Rename to ${name}`}
          busy={busy}
          onCancel={() => setConfirming(false)}
          onConfirm={async () => {
            const res = await run(() => call(SecretGroupServiceDefinition, 'renameGroup', { project, name: group.name, newName: name, expectedRevision: group.revision }));
            setConfirming(false);
            if (res?.group) {
              setFlash(`Renamed ${group.name} to ${res.group.name} (revision ${res.group.revision}).`);
              navigate(href.group(project, res.group.name, 'settings'));
            }
          }}
        >
          <p>
            Rename <strong>{group.name}</strong> to <strong>{name}</strong>? Workloads keep receiving its variables; among groups of equal priority the name
            decides which value wins, so a conflicting key may change hands.
          </p>
        </Confirm>
      ) : null}
      <ErrorBox error={error} />
    </form>
  );
}
