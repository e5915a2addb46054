/** The workloads a group reaches (ListGroupDependents: names, scopes and key counts, never values). */
import { call } from '../api.js';
import { SecretGroupServiceDefinition } from '../gen.js';
import { scopeName } from '../format.js';
import { useLive } from '../hooks.js';
import { href } from '../router.js';
import { ErrorBox, Loading } from '../ui.js';

export function DependentsList({ project, group }: { project: string; group: string }) {
  const deps = useLive(() => call(SecretGroupServiceDefinition, 'listGroupDependents', { project, name: group }), [project, group], false);
  if (!deps.data) return deps.error ? <ErrorBox error={deps.error} /> : <Loading what="the dependent workloads" />;
  const by = new Map<string, string[]>();
  for (const d of deps.data.dependents) by.set(d.workload, [...(by.get(d.workload) ?? []), scopeName(d.scope)]);
  if (by.size === 0) return <p class="muted">No workload (it reaches none today).</p>;
  return (
    <ul aria-label="Affected workloads">
      {[...by].map(([w, scopes]) => (
        <li data-workload={w}>
          <a href={href.workload(project, w)}>{w}</a> <span class="muted small">({scopes.join(', ')})</span>
        </li>
      ))}
    </ul>
  );
}
