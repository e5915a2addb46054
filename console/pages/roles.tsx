/**
 * Roles: every role's rights; custom roles created, edited (UpdateRole: tokens using the role
 * get the new rights at once) and deleted (refused while a token uses it) by token admins.
 */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { AccessServiceDefinition, AccessLevel, type Role } from '../gen.js';
import { useAction, useLive } from '../hooks.js';
import { Confirm, ErrorBox, Field, Loading, SaveStatus, TableHead } from '../ui.js';

const level = (l: AccessLevel) =>
  l === AccessLevel.ACCESS_LEVEL_WRITE ? 'write' : l === AccessLevel.ACCESS_LEVEL_READ ? 'read' : l === AccessLevel.ACCESS_LEVEL_KEYS ? 'keys only' : 'none';
const LEVELS = [AccessLevel.ACCESS_LEVEL_NONE, AccessLevel.ACCESS_LEVEL_KEYS, AccessLevel.ACCESS_LEVEL_READ, AccessLevel.ACCESS_LEVEL_WRITE];

export function RolesPage({ admin }: { admin: boolean }) {
  const roles = useLive(async () => (await call(AccessServiceDefinition, 'listRoles', {})).roles, []);
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const [deleting, setDeleting] = useState<string | undefined>(undefined);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const [busy, error, run] = useAction();
  const done = async (message: string) => {
    setStatus(message);
    setEditing(undefined);
    setDeleting(undefined);
    await roles.reload();
  };
  return (
    <section>
      <h1>Roles</h1>
      <SaveStatus message={status} />
      <ErrorBox error={roles.error} />
      {!roles.data ? (
        <Loading what="roles" />
      ) : (
        <table class="list" aria-label="Roles">
          <TableHead cols={['Role', 'Secret groups', 'Config groups', 'Projects admin', 'Tokens admin', 'Resolve', 'Description']} actions={admin} />
          <tbody>
            {roles.data.map((r) => (
              <tr data-role={r.name}>
                <td>
                  {r.name} {r.builtin ? <span class="muted small">built-in</span> : null}
                </td>
                <td>{level(r.secret)}</td>
                <td>{level(r.config)}</td>
                <td>{r.projectAdmin ? 'yes' : 'no'}</td>
                <td>{r.tokenAdmin ? 'yes' : 'no'}</td>
                <td>{r.resolve ? 'yes' : 'no'}</td>
                <td>{r.description}</td>
                {admin ? (
                  <td class="nowrap">
                    {r.builtin ? null : (
                      <>
                        <button type="button" class="link" aria-label={`Edit role ${r.name}`} onClick={() => (setEditing(r.name), setDeleting(undefined))}>
                          Edit
                        </button>{' '}
                        <button type="button" class="link" aria-label={`Delete role ${r.name}`} onClick={() => (setDeleting(r.name), setEditing(undefined))}>
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && roles.data?.find((r) => r.name === editing) ? (
        <RoleForm
          key={editing}
          role={roles.data.find((r) => r.name === editing)!}
          onCancel={() => setEditing(undefined)}
          onSaved={(r) => done(`Saved role ${r.name}: tokens that use it have the new rights now.`)}
        />
      ) : null}
      {deleting ? (
        <Confirm
          danger
          confirmLabel={`Delete role ${deleting}`}
          busy={busy}
          onCancel={() => setDeleting(undefined)}
          onConfirm={async () => {
            const ok = await run(() => call(AccessServiceDefinition, 'deleteRole', { name: deleting }));
            if (ok) await done(`Deleted role ${deleting}.`);
          }}
        >
          <p>
            Delete the custom role <strong>{deleting}</strong>? The server refuses while an active token uses it (revoke those tokens first).
          </p>
          <ErrorBox error={error} />
        </Confirm>
      ) : null}
      {admin && !editing ? <RoleForm onSaved={(r) => done(`Created role ${r.name}.`)} /> : null}
    </section>
  );
}

/** Creates a role, or with `role` edits that custom role (its name stays). */
function RoleForm({ role, onSaved, onCancel }: { role?: Role; onSaved: (r: Role) => Promise<void>; onCancel?: () => void }) {
  const blank: Role = {
    name: '',
    secret: AccessLevel.ACCESS_LEVEL_NONE,
    config: AccessLevel.ACCESS_LEVEL_READ,
    projectAdmin: false,
    tokenAdmin: false,
    resolve: false,
    builtin: false,
    description: '',
  };
  const [form, setForm] = useState<Role>(role ?? blank);
  const [busy, error, run] = useAction();
  const set = (patch: Partial<Role>) => setForm({ ...form, ...patch });
  const check = (label: string, field: 'projectAdmin' | 'tokenAdmin' | 'resolve', hint: string) => (
    <label class="check" title={hint}>
      <input type="checkbox" checked={form[field]} onChange={(e) => set({ [field]: e.currentTarget.checked })} /> {label}
    </label>
  );
  return (
    <form
      class="inline"
      aria-label={role ? `Edit role ${role.name}` : 'New role'}
      onSubmit={async (e) => {
        e.preventDefault();
        const res = await run(() => (role ? call(AccessServiceDefinition, 'updateRole', { role: form }) : call(AccessServiceDefinition, 'createRole', { role: form })));
        if (res?.role) {
          if (!role) setForm(blank);
          await onSaved(res.role);
        }
      }}
    >
      <h2>{role ? `Edit role ${role.name}` : 'New role'}</h2>
      {role ? null : (
        <Field label="Role name" hint="lower-case letters, digits and '-'">
          <input value={form.name} required onInput={(e) => set({ name: e.currentTarget.value.trim() })} />
        </Field>
      )}
      <Field label="Secret groups">
        <select value={form.secret} onChange={(e) => set({ secret: Number(e.currentTarget.value) as AccessLevel })}>
          {LEVELS.map((l) => (
            <option value={l}>{level(l)}</option>
          ))}
        </select>
      </Field>
      <Field label="Config groups">
        <select value={form.config} onChange={(e) => set({ config: Number(e.currentTarget.value) as AccessLevel })}>
          {LEVELS.map((l) => (
            <option value={l}>{level(l)}</option>
          ))}
        </select>
      </Field>
      {check('Projects admin', 'projectAdmin', 'create and delete projects, workloads and addons')}
      {check('Tokens admin', 'tokenAdmin', 'create, list and revoke tokens; define roles')}
      {check('Resolve', 'resolve', 'resolve any workload of its projects')}
      <Field label="Description">
        <input value={form.description} maxLength={256} onInput={(e) => set({ description: e.currentTarget.value })} />
      </Field>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {role ? 'Save role' : 'Create role'}
        </button>
        {onCancel ? (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
      <ErrorBox error={error} />
    </form>
  );
}
