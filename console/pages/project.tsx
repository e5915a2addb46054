/** A project's secrets page: its groups, workloads and addons, following changes live. */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { AccessLevel, GroupType, ProjectServiceDefinition, Scope, SecretGroupServiceDefinition, WorkloadKind, type DeletedGroup } from '../gen.js';
import { groupTypeName, keyCount, kindName, restrictionSummary, scopeName, time } from '../format.js';
import { useAction, useLive } from '../hooks.js';
import { href, navigate } from '../router.js';
import type { Me } from '../session.js';
import { canReadSecrets, canWrite, levelFor } from '../access.js';
import { Confirm, ErrorBox, Field, Loading, SaveStatus, setFlash, TableHead, takeFlash } from '../ui.js';
import { AddonDetails, parseDetails } from './addon-details.js';
import { useProjectVersion } from '../live.js';

export function ProjectPage({ project, me }: { project: string; me: Me }) {
  const version = useProjectVersion(project);
  // Keys and counts only: values are revealed one at a time.
  const data = useLive(
    async () => {
      const [groups, workloads, addons, info] = await Promise.all([
        call(SecretGroupServiceDefinition, 'listGroups', { project, keysOnly: true, includeDeleted: true }),
        call(ProjectServiceDefinition, 'listWorkloads', { project, keysOnly: true }),
        call(ProjectServiceDefinition, 'listAddons', { project, keysOnly: true }),
        call(ProjectServiceDefinition, 'getProject', { name: project }),
      ]);
      return {
        groups: groups.groups,
        deleted: groups.deletedGroups,
        workloads: workloads.workloads,
        addons: addons.addons,
        executionKeys: info.project?.executionKeys ?? [],
      };
    },
    [project, version],
    false,
  );
  const d = data.data;
  // What the last action here did (or a delete that led here), announced.
  const [status, setStatus] = useState<string | undefined>(() => takeFlash());
  const said = async (message: string) => {
    setStatus(message);
    await data.reload();
  };
  return (
    <section>
      <p class="crumbs">
        <a href={href.projects()}>Projects</a> /
      </p>
      <h1>{project} — secrets</h1>
      <SaveStatus message={status} />
      <ErrorBox error={data.error} />
      {!d ? (
        <Loading what="the project" />
      ) : (
        <>
          {/* Read-only: admins change the list with `sg project execution-keys`. */}
          <p class="muted" data-execution-keys>
            Execution-controlling keys (changing one needs write on secret groups): the built-in families in SECURITY.md
            {d.executionKeys.length ? <>, and this project's own: <code>{d.executionKeys.join(', ')}</code></> : null}.
          </p>
          <h2>Secret groups</h2>
          <table class="list" aria-label="Secret groups">
            <TableHead cols={['Group', 'Type', 'Scope', ['Priority', 'num'], 'Restricted to', ['Keys', 'num'], ['Files', 'num'], ['Addons', 'num']]} />
            <tbody>
              {[...d.groups]
                .sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name))
                .map((g) => (
                  <tr data-group={g.name}>
                    <td>
                      <a href={href.group(project, g.name)}>{g.name}</a>
                      {g.description ? <div class="muted small">{g.description}</div> : null}
                    </td>
                    <td>
                      <span class={`badge ${groupTypeName(g.type)}`}>{groupTypeName(g.type)}</span>
                    </td>
                    <td>{scopeName(g.scope)}</td>
                    <td class="num">{g.priority}</td>
                    <td>{restrictionSummary(g.restrictions)}</td>
                    <td class="num">{keyCount(g)}</td>
                    <td class="num">{g.files.length}</td>
                    <td class="num">{g.addonLinks.length}</td>
                  </tr>
                ))}
              {d.groups.length === 0 ? (
                <tr>
                  <td colSpan={8} class="muted">
                    No group yet.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          <NewGroup project={project} me={me} />
          <DeletedGroups project={project} me={me} deleted={d.deleted} />

          <h2>Workloads</h2>
          <table class="list" aria-label="Workloads">
            <TableHead cols={['Workload', 'Kind', 'Tags', ['Own variables', 'num'], ['Build arguments', 'num']]} />
            <tbody>
              {d.workloads.map((w) => (
                <tr data-workload={w.name}>
                  <td>
                    <a href={href.workload(project, w.name)}>{w.name}</a>
                  </td>
                  <td>{kindName(w.kind)}</td>
                  <td>{w.tags.map((t) => <span class="tag">{t}</span>)}</td>
                  <td class="num">{Object.keys(w.runtimeVariables).length}</td>
                  <td class="num">{Object.keys(w.buildArguments).length}</td>
                </tr>
              ))}
              {d.workloads.length === 0 ? (
                <tr>
                  <td colSpan={5} class="muted">
                    No workload yet.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          {me.role?.projectAdmin ? <NewWorkload project={project} onDone={(name) => said(`Created workload ${name}.`)} /> : null}

          <h2>Addons</h2>
          {d.addons.length === 0 ? <p class="muted">No addon in this project.</p> : null}
          {d.addons.map((a) => (
            <AddonDetails
              project={project}
              addon={a}
              canRead={canReadSecrets(me)}
              admin={!!me.role?.projectAdmin}
              linkedBy={d.groups.filter((g) => g.addonLinks.some((l) => l.addon === a.name)).map((g) => g.name)}
              onChanged={said}
            />
          ))}
          {me.role?.projectAdmin ? <NewAddon project={project} onDone={(name) => said(`Created addon ${name}.`)} /> : null}
          {me.role?.projectAdmin ? (
            <DeleteProject project={project} groups={d.groups.map((g) => g.name)} workloads={d.workloads.map((w) => w.name)} addons={d.addons.map((a) => a.name)} />
          ) : null}
        </>
      )}
    </section>
  );
}

function NewGroup({ project, me }: { project: string; me: Me }) {
  const [busy, error, run] = useAction();
  // The type this role may write comes first: a config editor creates config groups.
  const writes = (type: GroupType) => levelFor(me, type) === AccessLevel.ACCESS_LEVEL_WRITE;
  const defaultType = !writes(GroupType.GROUP_TYPE_SECRET) && writes(GroupType.GROUP_TYPE_CONFIG) ? GroupType.GROUP_TYPE_CONFIG : GroupType.GROUP_TYPE_SECRET;
  // Held in state: a `value` prop alone is written back on every render (the page re-renders
  // whenever the project changes), which reset a chosen type to secret and the priority to 0.
  const [type, setType] = useState(defaultType);
  const [priority, setPriority] = useState('0');
  // A role that may write neither type (a viewer) gets no form it could only be refused by.
  if (!writes(GroupType.GROUP_TYPE_SECRET) && !writes(GroupType.GROUP_TYPE_CONFIG)) return null;
  return (
    <form
      class="inline"
      aria-label="New group"
      onSubmit={async (e) => {
        e.preventDefault();
        const f = e.currentTarget.elements;
        const name = (f.namedItem('name') as HTMLInputElement).value.trim();
        const type = Number((f.namedItem('type') as HTMLSelectElement).value) as GroupType;
        const scope = Number((f.namedItem('scope') as HTMLSelectElement).value) as Scope;
        const priority = Number((f.namedItem('priority') as HTMLInputElement).value);
        const done = await run(() => call(SecretGroupServiceDefinition, 'createGroup', { project, name, type, scope, priority }));
        if (done) navigate(href.group(project, name));
      }}
    >
      <h3>New group</h3>
      <Field label="Group name">
        <input name="name" required />
      </Field>
      <Field label="Type">
        <select name="type" value={String(type)} onChange={(e) => setType(Number(e.currentTarget.value) as GroupType)}>
          <option value={GroupType.GROUP_TYPE_SECRET} disabled={!writes(GroupType.GROUP_TYPE_SECRET)}>
            secret
          </option>
          <option value={GroupType.GROUP_TYPE_CONFIG} disabled={!writes(GroupType.GROUP_TYPE_CONFIG)}>
            config
          </option>
        </select>
      </Field>
      <Field label="Scope">
        <select name="scope">
          <option value={Scope.SCOPE_BOTH}>both</option>
          <option value={Scope.SCOPE_RUNTIME}>runtime</option>
          <option value={Scope.SCOPE_BUILD}>build</option>
        </select>
      </Field>
      <Field label="Priority">
        <input name="priority" type="number" min={0} max={100} value={priority} required onInput={(e) => setPriority(e.currentTarget.value)} />
      </Field>
      <button type="submit" disabled={busy}>
        Create group
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

function NewWorkload({ project, onDone }: { project: string; onDone: (name: string) => Promise<void> }) {
  const [busy, error, run] = useAction();
  return (
    <form
      class="inline"
      aria-label="New workload"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = form.elements;
        const name = (f.namedItem('name') as HTMLInputElement).value.trim();
        const kind = Number((f.namedItem('kind') as HTMLSelectElement).value) as WorkloadKind;
        const tags = (f.namedItem('tags') as HTMLInputElement).value
          .split(/[\s,]+/)
          .filter(Boolean);
        const done = await run(() => call(ProjectServiceDefinition, 'createWorkload', { project, name, kind, tags }));
        if (done) {
          form.reset();
          await onDone(name);
        }
      }}
    >
      <h3>New workload</h3>
      <Field label="Workload name">
        <input name="name" required />
      </Field>
      <Field label="Kind">
        <select name="kind">
          <option value={WorkloadKind.WORKLOAD_KIND_SERVICE}>service</option>
          <option value={WorkloadKind.WORKLOAD_KIND_JOB}>job</option>
        </select>
      </Field>
      <Field label="Tags" hint="separated by spaces or commas">
        <input name="tags" />
      </Field>
      <button type="submit" disabled={busy}>
        Create workload
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

function NewAddon({ project, onDone }: { project: string; onDone: (name: string) => Promise<void> }) {
  const [busy, error, run] = useAction();
  return (
    <form
      class="inline"
      aria-label="New addon"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = form.elements;
        const v = (n: string) => (f.namedItem(n) as HTMLInputElement).value;
        const done = await run(async () =>
          call(ProjectServiceDefinition, 'createAddon', { project, name: v('name').trim(), type: v('type').trim(), connectionDetails: parseDetails(v('details')) }),
        );
        if (done) {
          form.reset();
          await onDone(done.addon?.name ?? '');
        }
      }}
    >
      <h3>New addon</h3>
      <Field label="Addon name">
        <input name="name" required />
      </Field>
      <Field label="Addon type">
        <input name="type" placeholder="postgresql" />
      </Field>
      <Field label="Connection details" hint="one KEY=VALUE per line">
        <textarea name="details" class="code" rows={3} spellcheck={false} />
      </Field>
      <button type="submit" disabled={busy}>
        Create addon
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

/** Deleted groups whose history is kept, each with a Restore button for roles that may write its type. */
function DeletedGroups({ project, me, deleted }: { project: string; me: Me; deleted: DeletedGroup[] }) {
  const [busy, error, run] = useAction();
  return (
    <>
      <h2>Deleted groups</h2>
      {deleted.length === 0 ? (
        <p class="muted">No deleted group (a deleted group stays here, with its history, until its name is used again).</p>
      ) : (
        <table class="list" aria-label="Deleted groups">
          <TableHead cols={['Group', 'Type', 'Deleted', 'By']} actions />
          <tbody>
            {deleted.map((g) => (
              <tr data-deleted-group={g.name}>
                <td>{g.name}</td>
                <td>
                  <span class={`badge ${groupTypeName(g.type)}`}>{groupTypeName(g.type)}</span>
                </td>
                <td class="nowrap">{time(g.deletedAtMs)}</td>
                <td>{g.deletedBy}</td>
                <td>
                  {canWrite(me, g) ? (
                    <button
                      type="button"
                      aria-label={`Restore ${g.name}`}
                      disabled={busy}
                      onClick={async () => {
                        const res = await run(() => call(SecretGroupServiceDefinition, 'restoreGroup', { project, name: g.name, expectedRevision: g.deletedRevision }));
                        if (res?.group) {
                          setFlash(`Restored group ${g.name} as it was before its deletion (now revision ${res.group.revision}).`);
                          navigate(href.group(project, g.name));
                        }
                      }}
                    >
                      Restore
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={error} />
    </>
  );
}

/** Deleting a project removes everything in it: said in full, confirmed by typing its name. */
function DeleteProject({ project, groups, workloads, addons }: { project: string; groups: string[]; workloads: string[]; addons: string[] }) {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const [busy, error, run] = useAction();
  const list = (what: string, names: string[]) => (
    <li>
      {names.length} {what}
      {names.length ? `: ${names.join(', ')}` : ''}
    </li>
  );
  return (
    <section class="danger-zone" aria-label="Delete project">
      <h2>Delete project</h2>
      {!open ? (
        <button type="button" class="danger" onClick={() => setOpen(true)}>
          Delete project…
        </button>
      ) : (
        <Confirm
          danger
          confirmLabel="Delete project"
          busy={busy}
          disabled={typed !== project}
          onCancel={() => (setOpen(false), setTyped(''))}
          onConfirm={async () => {
            if (typed !== project) return;
            const ok = await run(() => call(ProjectServiceDefinition, 'deleteProject', { name: project, force: true }));
            if (ok) navigate(href.projects());
          }}
        >
          <p>
            This deletes the project <strong>{project}</strong> and everything in it, with no undo (the history of its groups goes too):
          </p>
          <ul aria-label="What the delete removes">
            {list('group(s)', groups)}
            {list('workload(s)', workloads)}
            {list('addon(s)', addons)}
          </ul>
          <p>Agents and workload tokens of its workloads stop resolving. Type the project name to confirm.</p>
          <Field label="Project name to confirm">
            <input value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autocomplete="off" />
          </Field>
          <ErrorBox error={error} />
        </Confirm>
      )}
    </section>
  );
}
