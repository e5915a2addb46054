/** "Restart dependents": the dependent workloads first, a confirmation, then the agents reached. */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { Scope, SecretGroupServiceDefinition, type SecretGroup } from '../gen.js';
import { useAction, useLive } from '../hooks.js';
import { Confirm, ErrorBox, Loading, Notice } from '../ui.js';

export function RestartPanel({ project, group, onClose }: { project: string; group: SecretGroup; onClose: () => void }) {
  const dependents = useLive(
    async () => (await call(SecretGroupServiceDefinition, 'listGroupDependents', { project, name: group.name, scope: Scope.SCOPE_RUNTIME })).dependents,
    [project, group.name, group.revision],
    false,
  );
  const [busy, error, run] = useAction();
  const [result, setResult] = useState<{ workloads: string[]; delivered: number } | undefined>(undefined);
  if (result)
    return (
      <div class="confirm" role="region" aria-label="Restart result">
        <Notice>
          Restart sent: <strong data-testid="agents-reached">{result.delivered}</strong> agent{result.delivered === 1 ? '' : 's'} reached, for{' '}
          {result.workloads.length} workload{result.workloads.length === 1 ? '' : 's'} ({result.workloads.join(', ') || 'none'}).
        </Notice>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    );
  if (!dependents.data) return dependents.error ? <ErrorBox error={dependents.error} /> : <Loading what="dependents" />;
  const deps = dependents.data;
  return (
    <Confirm
      confirmLabel={`Restart ${deps.length} dependent${deps.length === 1 ? '' : 's'}`}
      busy={busy || deps.length === 0}
      onCancel={onClose}
      onConfirm={async () => {
        const res = await run(() => call(SecretGroupServiceDefinition, 'restartDependents', { project, name: group.name }));
        if (res) setResult(res);
      }}
    >
      <p>
        Restart every running agent of the workloads that use <strong>{group.name}</strong> at runtime? Their commands stop gracefully and start again with
        the current variables.
      </p>
      {deps.length ? (
        <ul class="dependents" aria-label="Dependent workloads">
          {deps.map((d) => (
            <li data-workload={d.workload}>
              <strong>{d.workload}</strong>{' '}
              <span class="muted small">
                takes {d.winningKeys.length} key{d.winningKeys.length === 1 ? '' : 's'} from this group
                {d.shadowedKeys.length ? `, ${d.shadowedKeys.length} overridden elsewhere` : ''}
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No workload uses this group at runtime.</p>
      )}
      <ErrorBox error={error} />
    </Confirm>
  );
}
