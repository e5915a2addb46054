/**
 * One value at a time, for the console's masked fields: the permission is exactly the one
 * reading that value normally needs, and every reveal is recorded (awaited) in the audit log
 * as a read naming the key, never the value. If the record cannot be written, nothing is shown.
 */
import { echo, invalid, notFound } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import { validateName } from '../domain/validation.js';
import type { ResolveScope } from '../domain/types.js';
import type { Principal } from '../security/principal.js';
import type { Deps } from './deps.js';
import type { ResolverService } from './resolver.js';

export type RevealKind = 'group-variable' | 'group-file' | 'addon-detail' | 'workload-runtime' | 'workload-build' | 'resolved-variable' | 'resolved-file';

export interface Revealed {
  value?: string;
  content?: Uint8Array;
}

export class RevealService {
  constructor(
    private readonly d: Deps,
    /** Resolved kinds go through Resolve's own checks (identity included). */
    private readonly resolver: Pick<ResolverService, 'resolvedFor'>,
  ) {}

  async reveal(p: Principal, project: string, kind: RevealKind, name: string, key: string, scope: ResolveScope): Promise<Revealed> {
    validateName('project', project);
    validateName(kind.startsWith('group') ? 'group name' : kind === 'addon-detail' ? 'addon name' : 'workload name', name);
    if (!key || key.length > LIMITS.pathLength) throw invalid(`key must be 1-${LIMITS.pathLength} characters`);
    p.requireProject(project);
    const store = this.d.store;
    let target: string;
    let out: Revealed | undefined;
    switch (kind) {
      case 'group-variable':
      case 'group-file': {
        const g = await store.getRecord('group', project, name);
        if (!g) throw notFound(`group ${project}/${name}`);
        p.requireGroupAccess(project, g.type, 'read');
        target = `group ${project}/${name}`;
        if (kind === 'group-variable') out = Object.hasOwn(g.variables, key) ? { value: g.variables[key]! } : undefined;
        else {
          const f = g.files.find((x) => x.path === key);
          out = f ? { content: f.content } : undefined;
        }
        break;
      }
      case 'addon-detail': {
        // Connection details count as secret values.
        p.requireRecordRead(project);
        p.requireGroupAccess(project, 'secret', 'read');
        const a = await store.getRecord('addon', project, name);
        if (!a) throw notFound(`addon ${project}/${name}`);
        target = `addon ${project}/${name}`;
        out = Object.hasOwn(a.connectionDetails, key) ? { value: a.connectionDetails[key]! } : undefined;
        break;
      }
      case 'workload-runtime':
      case 'workload-build': {
        // A workload's own variables count as secret values.
        p.requireRecordRead(project);
        p.requireGroupAccess(project, 'secret', 'read');
        const w = await store.getRecord('workload', project, name);
        if (!w) throw notFound(`workload ${project}/${name}`);
        target = `workload ${project}/${name}`;
        const vars = kind === 'workload-runtime' ? w.runtimeVariables : w.buildArguments;
        out = Object.hasOwn(vars, key) ? { value: vars[key]! } : undefined;
        break;
      }
      case 'resolved-variable':
      case 'resolved-file': {
        // Exactly what Resolve needs for this identity, the workload token's incarnation included.
        const r = await this.resolver.resolvedFor(p, project, name, scope);
        target = `workload ${project}/${name} (${scope})`;
        if (kind === 'resolved-variable') out = Object.hasOwn(r.variables, key) ? { value: r.variables[key]! } : undefined;
        else {
          const f = r.files.find((x) => x.path === key);
          out = f ? { content: f.content } : undefined;
        }
        break;
      }
      default:
        throw invalid('kind is required');
    }
    if (!out) throw notFound(`${kind.endsWith('file') ? 'file' : 'key'} ${echo(key)} of ${target}`);
    await this.d.audit.record({ time: this.d.now(), actor: p.actor, action: 'RevealValue', project, target, keys: [key], outcome: 'ok', detail: kind });
    return out;
  }
}
