import { call } from '../api.js';
import { AccessServiceDefinition, AccessLevel } from '../gen.js';
import { useLive } from '../hooks.js';
import { ErrorBox, Loading } from '../ui.js';

const level = (l: AccessLevel) =>
  l === AccessLevel.ACCESS_LEVEL_WRITE ? 'write' : l === AccessLevel.ACCESS_LEVEL_READ ? 'read' : l === AccessLevel.ACCESS_LEVEL_KEYS ? 'keys only' : 'none';

export function RolesPage() {
  const roles = useLive(async () => (await call(AccessServiceDefinition, 'listRoles', {})).roles, []);
  return (
    <section>
      <h1>Roles</h1>
      <ErrorBox error={roles.error} />
      {!roles.data ? (
        <Loading what="roles" />
      ) : (
        <table class="list" aria-label="Roles">
          <thead>
            <tr>
              <th>Role</th>
              <th>Secret groups</th>
              <th>Config groups</th>
              <th>Projects admin</th>
              <th>Tokens admin</th>
              <th>Resolve</th>
              <th>Description</th>
            </tr>
          </thead>
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
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
