/** Tokens: create (role with projects, or bound to one workload), shown once; revoke. */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { AccessServiceDefinition, ProjectServiceDefinition, Scope, type Role, type TokenInfo } from '../gen.js';
import { time } from '../format.js';
import { useAction, useLive } from '../hooks.js';
import { Confirm, ErrorBox, Field, Loading, TableHead } from '../ui.js';

/** revoked, else expired (by this browser's clock), else active. */
export function tokenStatus(t: TokenInfo, now = Date.now()): 'active' | 'expired' | 'revoked' {
  if (t.revoked) return 'revoked';
  return t.expiresAtMs && t.expiresAtMs <= now ? 'expired' : 'active';
}

/**
 * The form's default role: the one granting least (reading values through Resolve counts as
 * reading secrets; administration outweighs any access), so an unchanged form never mints an
 * admin token. Viewer among the built-in roles.
 */
export function leastPrivileged(roles: readonly Role[]): string | undefined {
  const weight = (r: Role) =>
    (r.tokenAdmin ? 1000 : 0) + (r.projectAdmin ? 1000 : 0) + Math.max(r.secret, r.resolve ? 3 : 0) * 10 + r.config;
  const candidates = roles.filter((r) => r.name !== 'workload');
  return [...candidates].sort((a, b) => weight(a) - weight(b) || a.name.localeCompare(b.name))[0]?.name;
}

export function TokensPage() {
  const tokens = useLive(async () => (await call(AccessServiceDefinition, 'listTokens', {})).tokens, []);
  const [revoking, setRevoking] = useState<string | undefined>(undefined);
  const [busy, error, run] = useAction();
  return (
    <section>
      <h1>Tokens</h1>
      <CreateToken onCreated={tokens.reload} />
      <h2>Existing tokens</h2>
      <ErrorBox error={tokens.error ?? error} />
      {revoking ? (
        <Confirm
          danger
          confirmLabel="Revoke"
          busy={busy}
          onCancel={() => setRevoking(undefined)}
          onConfirm={async () => {
            await run(() => call(AccessServiceDefinition, 'revokeToken', { id: revoking }));
            setRevoking(undefined);
            await tokens.reload();
          }}
        >
          Revoke token <code>{revoking}</code>? Its sessions and open streams end at once.
        </Confirm>
      ) : null}
      {!tokens.data ? (
        <Loading what="tokens" />
      ) : (
        <table class="list" aria-label="Tokens">
          <TableHead cols={['Id', 'Name', 'Role', 'Bound to', 'Scope', 'Created', 'Expires', 'Status']} actions />
          <tbody>
            {tokens.data.map((t) => (
              <tr data-token={t.id} data-status={tokenStatus(t)} class={tokenStatus(t) === 'active' ? '' : 'revoked'}>
                <td>
                  <code>{t.id}</code>
                </td>
                <td>{t.name}</td>
                <td>{t.role}</td>
                <td>
                  {t.workload?.workload
                    ? `workload ${t.workload.project}/${t.workload.workload}`
                    : t.projects.length
                      ? `projects ${t.projects.join(', ')}`
                      : 'every project'}
                </td>
                <td>{t.workload?.workload ? (t.scopes.includes(Scope.SCOPE_BUILD) ? 'runtime, build' : 'runtime') : <span class="muted">—</span>}</td>
                <td>
                  {time(t.createdAtMs)} {t.createdBy ? <span class="muted small">by {t.createdBy}</span> : null}
                </td>
                <td>{t.expiresAtMs ? time(t.expiresAtMs) : 'never'}</td>
                <td>{tokenStatus(t)}</td>
                <td>
                  {!t.revoked ? (
                    <button type="button" class="link" aria-label={`Revoke ${t.name || t.id}`} onClick={() => setRevoking(t.id)}>
                      Revoke
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function CreateToken({ onCreated }: { onCreated: () => Promise<void> }) {
  const roles = useLive(async () => (await call(AccessServiceDefinition, 'listRoles', {})).roles, [], false);
  const projects = useLive(async () => (await call(ProjectServiceDefinition, 'listProjects', {})).projects, [], false);
  const [kind, setKind] = useState<'role' | 'workload'>('role');
  const [project, setProject] = useState('');
  const workloads = useLive(
    async () => (project ? (await call(ProjectServiceDefinition, 'listWorkloads', { project, keysOnly: true })).workloads : []),
    [project],
    false,
  );
  // In state, not a bare `value`: the list above refreshes every POLL_MS, and each render wrote
  // a bare value back, turning a typed expiry into 0 (never) before Create was pressed.
  const [ttl, setTtl] = useState('0');
  const [created, setCreated] = useState<string | undefined>(undefined);
  const [busy, error, run] = useAction();
  return (
    <form
      class="inline create-token"
      aria-label="Create a token"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = form.elements;
        const v = (n: string) => (f.namedItem(n) as HTMLInputElement | null)?.value ?? '';
        const ttlDays = Number(v('ttl') || 0);
        const picked = [...form.querySelectorAll<HTMLInputElement>('input[name="projects"]:checked')].map((i) => i.value);
        const res = await run(() =>
          call(
            AccessServiceDefinition,
            'createToken',
            kind === 'role'
              ? { name: v('name'), role: v('role'), projects: picked, ttlSeconds: Math.round(ttlDays * 86400) }
              : {
                  name: v('name'),
                  workload: { project, workload: v('workload') },
                  allowBuild: (f.namedItem('build') as HTMLInputElement).checked,
                  ttlSeconds: Math.round(ttlDays * 86400),
                },
          ),
        );
        if (res) {
          setCreated(res.token);
          await onCreated();
        }
      }}
    >
      <h2>Create a token</h2>
      {created ? (
        <div class="confirm" role="region" aria-label="Token created">
          <p>
            <strong>Copy this token now: it is shown once.</strong> Only its hash is stored.
          </p>
          <Field label="New token">
            <input class="code" readOnly value={created} onFocus={(e) => e.currentTarget.select()} />
          </Field>
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      ) : null}
      <Field label="Name">
        <input name="name" />
      </Field>
      <fieldset class="radio">
        <legend>Kind</legend>
        <label class="check">
          <input type="radio" name="kind" checked={kind === 'role'} onChange={() => setKind('role')} /> A role in some projects
        </label>
        <label class="check">
          <input type="radio" name="kind" checked={kind === 'workload'} onChange={() => setKind('workload')} /> Bound to one workload (for its agent)
        </label>
      </fieldset>
      {kind === 'role' ? (
        <>
          <Field label="Role">
            <select name="role" required>
              {(roles.data ?? [])
                .filter((r) => r.name !== 'workload')
                .map((r) => (
                  <option value={r.name} selected={r.name === leastPrivileged(roles.data ?? [])}>
                    {r.name}
                  </option>
                ))}
            </select>
          </Field>
          <fieldset>
            <legend>Projects (none: every project, admin roles only)</legend>
            {(projects.data ?? []).map((p) => (
              <label class="check">
                <input type="checkbox" name="projects" value={p.name} /> {p.name}
              </label>
            ))}
          </fieldset>
        </>
      ) : (
        <>
          <Field label="Project">
            <select name="project" value={project} required onChange={(e) => setProject(e.currentTarget.value)}>
              <option value="">— choose —</option>
              {(projects.data ?? []).map((p) => (
                <option value={p.name}>{p.name}</option>
              ))}
            </select>
          </Field>
          <Field label="Workload">
            <select name="workload" required>
              {(workloads.data ?? []).map((w) => (
                <option value={w.name}>{w.name}</option>
              ))}
            </select>
          </Field>
          <label class="check">
            <input type="checkbox" name="build" /> Also allow the build scope
          </label>
        </>
      )}
      <Field label="Expires after (days, 0 = never)">
        <input name="ttl" type="number" min={0} step="any" value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} />
      </Field>
      <button type="submit" class="primary" disabled={busy}>
        Create token
      </button>
      <ErrorBox error={error} />
    </form>
  );
}
