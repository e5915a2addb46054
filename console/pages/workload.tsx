/** A workload: resolved variables per scope with provenance (Explain), its own variables, tags. */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { ProjectServiceDefinition, ResolverServiceDefinition, Scope, type ServiceAccountBinding, type Source } from '../gen.js';
import { kindName, scopeName, time } from '../format.js';
import { useLive } from '../hooks.js';
import { MaskedTable, MaskedValue } from '../masked.js';
import { href } from '../router.js';
import { ErrorBox, Loading, SaveStatus, TableHead } from '../ui.js';
import { WorkloadEditor } from './workload-editor.js';
import { canReadSecrets } from '../access.js';
import { useProjectVersion } from '../live.js';
import type { Me } from '../session.js';

const sourceText = (s: Source | undefined): string =>
  !s ? '—' : s.kind === 'workload' ? 'the workload itself' : s.kind === 'addon' ? `addon ${s.addon} via ${s.group} (${s.priority})` : `${s.group} (${s.priority})`;

/** A source, with its group as a link to that group's page. */
function SourceLink({ project, s }: { project: string; s: Source | undefined }) {
  if (!s || s.kind === 'workload' || !s.group) return <>{sourceText(s)}</>;
  const group = <a href={href.group(project, s.group)}>{s.group}</a>;
  return s.kind === 'addon' ? (
    <>
      addon {s.addon} via {group} ({s.priority})
    </>
  ) : (
    <>
      {group} ({s.priority})
    </>
  );
}

export function WorkloadPage({ project, workload, me }: { project: string; workload: string; me: Me }) {
  const [scope, setScope] = useState<Scope>(Scope.SCOPE_RUNTIME);
  const version = useProjectVersion(project);
  const got = useLive(() => call(ProjectServiceDefinition, 'getWorkload', { project, name: workload, keysOnly: true }), [project, workload, version], false);
  const w = { data: got.data?.workload, error: got.error };
  const explain = useLive(() => call(ResolverServiceDefinition, 'explain', { project, workload, scope }), [project, workload, scope, version], false);
  const mayResolve = !!me.role?.resolve;
  const wl = w.data;
  const [status, setStatus] = useState<string | undefined>(undefined);
  return (
    <section>
      <p class="crumbs">
        <a href={href.projects()}>Projects</a> / <a href={href.project(project)}>{project}</a> /
      </p>
      <h1>
        {workload} {wl ? <span class="muted small">{kindName(wl.kind)}</span> : null}
      </h1>
      <ErrorBox error={w.error} />
      {wl ? (
        <p class="meta">
          Tags: {wl.tags.length ? wl.tags.map((t) => <span class="tag">{t}</span>) : <span class="muted">none</span>} · revision {wl.revision}
        </p>
      ) : null}

      <h2>Resolved variables</h2>
      <div class="mode" role="group" aria-label="Scope">
        <button type="button" aria-pressed={scope === Scope.SCOPE_RUNTIME} onClick={() => setScope(Scope.SCOPE_RUNTIME)}>
          Runtime
        </button>
        <button type="button" aria-pressed={scope === Scope.SCOPE_BUILD} onClick={() => setScope(Scope.SCOPE_BUILD)}>
          Build
        </button>
      </div>
      <ErrorBox error={explain.error} />
      {!explain.data ? (
        explain.error ? null : <Loading what="the resolution" />
      ) : (
        <>
          <table class="list" aria-label="Resolved variables">
            <thead>
              <tr>
                <th>Key</th>
                {mayResolve ? <th>Value</th> : null}
                <th>From</th>
                <th>Shadowed</th>
                <th>Conflict</th>
              </tr>
            </thead>
            <tbody>
              {explain.data.variables.map((p) => (
                <tr data-key={p.key} class={p.conflict ? 'conflict' : ''}>
                  <td>
                    <code>{p.key}</code>
                  </td>
                  {mayResolve ? (
                    <td>
                      <MaskedValue key={`${scope}/${p.key}`} target={{ kind: 'resolved', project, workload, key: p.key, scope }} redacted={false} label={p.key} />
                    </td>
                  ) : null}
                  <td>
                    <SourceLink project={project} s={p.winner} />
                  </td>
                  <td>
                    {p.shadowed.map((s) => (
                      <span class="shadowed">
                        <SourceLink project={project} s={s} />
                      </span>
                    ))}
                  </td>
                  <td>{p.conflict ? <span class="badge warn">equal priority</span> : null}</td>
                </tr>
              ))}
              {explain.data.variables.length === 0 ? (
                <tr>
                  <td colSpan={4} class="muted">
                    Nothing resolves for this scope.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          {explain.data.files.length ? (
            <>
              <h3>Files</h3>
              <ul>
                {explain.data.files.map((f) => (
                  <li>
                    <code>{f.key}</code> from <SourceLink project={project} s={f.winner} />
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {explain.data.conflicts.length ? (
            <>
              <h3>Conflicts</h3>
              <ul aria-label="Conflicts">
                {explain.data.conflicts.map((c) => (
                  <li>
                    <code>{c.key}</code>: groups{' '}
                    {c.groups.map((g, i) => (
                      <>
                        {i ? ', ' : ''}
                        <a href={href.group(project, g)}>{g}</a>
                      </>
                    ))}{' '}
                    share priority {c.priority}; <strong>{c.winner}</strong> wins (first by name).
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </>
      )}

      <SaveStatus message={status} />
      {wl && me.role?.projectAdmin ? <WorkloadEditor project={project} workload={wl} onSaved={(m) => (setStatus(m), void got.reload(), void explain.reload())} /> : null}
      {wl ? (
        <div class="two-col">
          <OwnVariables title="Own runtime variables" project={project} workload={workload} vars={wl.runtimeVariables} redacted={!canReadSecrets(me)} build={false} />
          <OwnVariables title="Build arguments" project={project} workload={workload} vars={wl.buildArguments} redacted={!canReadSecrets(me)} build />
        </div>
      ) : null}
      {got.data ? <ServiceAccounts bindings={got.data.serviceAccountBindings} project={project} workload={workload} /> : null}
    </section>
  );
}

function OwnVariables(p: { title: string; project: string; workload: string; vars: Record<string, string>; redacted: boolean; build: boolean }) {
  const keys = Object.keys(p.vars).sort();
  return (
    <div>
      <h2>{p.title}</h2>
      <p class="muted small">Set directly on the workload; they override every group.</p>
      {keys.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <MaskedTable label={p.title} keys={keys} target={(k) => ({ kind: 'workload', project: p.project, workload: p.workload, key: k, build: p.build })} redacted={p.redacted} />
      )}
    </div>
  );
}

/** The Kubernetes service accounts bound to the workload (read-only: `sg workload bind|unbind` changes them). */
function ServiceAccounts({ bindings, project, workload }: { bindings: ServiceAccountBinding[]; project: string; workload: string }) {
  return (
    <div>
      <h2>Kubernetes service accounts</h2>
      <p class="muted small">
        Pods running as these service accounts resolve this workload with their projected token. Bind one with <code>sg workload bind {project} {workload} --k8s-service-account NAMESPACE/NAME</code>.
      </p>
      {bindings.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <table class="list" aria-label="Kubernetes service accounts">
          <TableHead cols={['Service account', 'Scopes', 'Bound', 'By']} />
          <tbody>
            {bindings.map((b) => (
              <tr data-service-account={b.serviceAccount}>
                <td>
                  <code>{b.serviceAccount}</code>
                </td>
                <td>{b.scopes.map(scopeName).join(', ')}</td>
                <td>{time(b.createdAtMs)}</td>
                <td>{b.createdBy}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
