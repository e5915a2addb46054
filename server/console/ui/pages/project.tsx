/** A project's secrets page: its groups, workloads and addons, following changes live. */
import { call } from '../api.js';
import { GroupType, ProjectServiceDefinition, Scope, SecretGroupServiceDefinition, WorkloadKind } from '../gen.js';
import { groupTypeName, keyCount, kindName, restrictionSummary, scopeName } from '../format.js';
import { useAction, useLive } from '../hooks.js';
import { href, navigate } from '../router.js';
import type { Me } from '../session.js';
import { canReadSecrets } from '../access.js';
import { ErrorBox, Field, Loading } from '../ui.js';
import { AddonDetails } from './addon-details.js';
import { useProjectVersion } from '../live.js';

export function ProjectPage({ project, me }: { project: string; me: Me }) {
  const version = useProjectVersion(project);
  // Keys and counts only: values are revealed one at a time.
  const data = useLive(
    async () => {
      const [groups, workloads, addons, info] = await Promise.all([
        call(SecretGroupServiceDefinition, 'listGroups', { project, keysOnly: true }),
        call(ProjectServiceDefinition, 'listWorkloads', { project, keysOnly: true }),
        call(ProjectServiceDefinition, 'listAddons', { project, keysOnly: true }),
        call(ProjectServiceDefinition, 'getProject', { name: project }),
      ]);
      return { groups: groups.groups, workloads: workloads.workloads, addons: addons.addons, executionKeys: info.project?.executionKeys ?? [] };
    },
    [project, version],
    false,
  );
  const d = data.data;
  return (
    <section>
      <p class="crumbs">
        <a href={href.projects()}>Projects</a> /
      </p>
      <h1>{project} — secrets</h1>
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
            <thead>
              <tr>
                <th>Group</th>
                <th>Type</th>
                <th>Scope</th>
                <th class="num">Priority</th>
                <th>Restricted to</th>
                <th class="num">Keys</th>
                <th class="num">Files</th>
                <th class="num">Addons</th>
              </tr>
            </thead>
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
          <NewGroup project={project} />

          <h2>Workloads</h2>
          <table class="list" aria-label="Workloads">
            <thead>
              <tr>
                <th>Workload</th>
                <th>Kind</th>
                <th>Tags</th>
                <th class="num">Own variables</th>
                <th class="num">Build arguments</th>
              </tr>
            </thead>
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
          {me.role?.projectAdmin ? <NewWorkload project={project} onDone={data.reload} /> : null}

          <h2>Addons</h2>
          {d.addons.length === 0 ? <p class="muted">No addon in this project.</p> : null}
          {d.addons.map((a) => (
            <AddonDetails project={project} addon={a} canRead={canReadSecrets(me)} />
          ))}
          {me.role?.projectAdmin ? <NewAddon project={project} onDone={data.reload} /> : null}
        </>
      )}
    </section>
  );
}

function NewGroup({ project }: { project: string }) {
  const [busy, error, run] = useAction();
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
        <select name="type">
          <option value={GroupType.GROUP_TYPE_SECRET}>secret</option>
          <option value={GroupType.GROUP_TYPE_CONFIG}>config</option>
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
        <input name="priority" type="number" min={0} max={100} value="0" required />
      </Field>
      <button type="submit" disabled={busy}>
        Create group
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

function NewWorkload({ project, onDone }: { project: string; onDone: () => Promise<void> }) {
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
          await onDone();
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

/** "KEY=VALUE" lines -> a map; the first malformed line is reported by number. */
export function parseDetails(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`Connection details, line ${i + 1}: expected KEY=VALUE`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  });
  return out;
}

function NewAddon({ project, onDone }: { project: string; onDone: () => Promise<void> }) {
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
          await onDone();
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
