/** A mutation whose audit record cannot be written is refused, and nothing is stored. */
import { expect, it } from 'vitest';
import { Audit } from '../../server/service/audit.js';
import { GroupsService } from '../../server/service/groups.js';
import { ProjectsService } from '../../server/service/projects.js';
import { Snapshots } from '../../server/watch/snapshots.js';
import { Principal } from '../../server/security/principal.js';
import { builtinRole } from '../../server/security/roles.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import type { AuditEvent } from '../../server/store/store.js';
import { WatchHub } from '../../server/watch/hub.js';
import { encodeResolution, watchEncoder } from '../../server/api/handlers/resolver-handlers.js';

class FailingAuditStore extends SqliteStore {
  failAudit = false;
  override async appendAudit(event: AuditEvent): Promise<void> {
    if (this.failAudit) throw new Error('audit log unavailable');
    return super.appendAudit(event);
  }
}

it('refuses group and workload mutations when the audit record cannot be written', async () => {
  const store = new FailingAuditStore(':memory:');
  await store.init();
  const snapshots = new Snapshots(store, encodeResolution);
  const audit = new Audit(store, 60_000);
  const deps = { store, snapshots, hub: new WatchHub(snapshots, watchEncoder, 0), audit, now: Date.now };
  const admin = new Principal(
    { id: 'a', hash: 'h', name: 'admin', role: 'admin', projects: [], workload: null, scopes: [], createdAt: 1, expiresAt: 0, revoked: false, createdBy: 'test' },
    builtinRole('admin')!,
  );
  const groups = new GroupsService(deps);
  const projects = new ProjectsService(deps);
  await projects.createProject(admin, 'p');
  await groups.mutate(admin, 'p', 'g', { kind: 'create', group: { project: 'p', name: 'g', description: '', type: 'secret', scope: 'both', priority: 0, restrictions: { restricted: false, workloads: [], tags: [] }, variables: { A: '1' } } }, 0);

  store.failAudit = true;
  await expect(groups.mutate(admin, 'p', 'g', { kind: 'set', variables: { A: '2' } }, 0)).rejects.toThrow(/audit log unavailable/);
  await expect(projects.createWorkload(admin, { project: 'p', name: 'w', kind: 'service', tags: [], runtimeVariables: {}, buildArguments: {} })).rejects.toThrow(/audit log unavailable/);
  expect((await store.getRecord('group', 'p', 'g'))!.variables).toEqual({ A: '1' });
  expect((await store.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([1]);
  expect(await store.getRecord('workload', 'p', 'w')).toBeNull();

  store.failAudit = false;
  await groups.mutate(admin, 'p', 'g', { kind: 'set', variables: { A: '2' } }, 0);
  expect((await store.getRecord('group', 'p', 'g'))!.variables).toEqual({ A: '2' });
  await audit.close();
  await store.close();
});
