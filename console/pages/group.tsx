/** A group: header with its settings at a glance, actions, and one tab per part of it. */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { canRead, canWrite } from '../access.js';
import { SecretGroupServiceDefinition, type SecretGroup } from '../gen.js';
import { groupTypeName, restrictionSummary, scopeName, time } from '../format.js';
import { useAction, useLive } from '../hooks.js';
import { href, navigate } from '../router.js';
import type { Me } from '../session.js';
import { Confirm, ErrorBox, Loading, SaveStatus, setFlash, Tabs, takeFlash } from '../ui.js';
import { DependentsList } from './group-dependents.js';
import { VariablesTab } from './group-variables.js';
import { FilesTab } from './group-files.js';
import { AddonsTab } from './group-addons.js';
import { SettingsTab } from './group-settings.js';
import { HistoryTab } from './group-history.js';
import { RestartPanel } from './group-restart.js';
import { useProjectVersion } from '../live.js';
import type { GroupTabProps } from './group-tab.js';

export function GroupPage({ project, group: name, tab, me }: { project: string; group: string; tab: string; me: Me }) {
  const version = useProjectVersion(project);
  const live = useLive(() => call(SecretGroupServiceDefinition, 'getGroup', { project, name, keysOnly: true }), [project, name, version], false);
  const [saved, setSaved] = useState<SecretGroup | undefined>(undefined);
  const [panel, setPanel] = useState<'none' | 'restart' | 'delete'>('none');
  const [busy, error, run] = useAction();
  // What the last save did (or a restore or rename that led here).
  const [status, setStatus] = useState<string | undefined>(() => takeFlash());
  const fetched = live.data?.group;
  // Whichever is newer: the last poll or the last save.
  const g = saved && (!fetched || saved.revision > fetched.revision) ? saved : fetched;
  if (!g) {
    return (
      <section>
        <Crumbs project={project} />
        <h1>{name}</h1>
        <ErrorBox error={live.error} />
        {live.error ? null : <Loading what="the group" />}
      </section>
    );
  }
  const writable = canWrite(me, g);
  const props: GroupTabProps = {
    project,
    group: g,
    me,
    writable,
    version,
    onSaved: (ng, what) => {
      if (ng) setSaved(ng);
      setStatus(ng ? `Saved${what ? ` (${what})` : ''}: ${ng.name} is now at revision ${ng.revision}.` : undefined);
      void live.reload();
    },
  };
  return (
    <section>
      <Crumbs project={project} />
      <div class="title-row">
        <h1>
          {g.name} <span class={`badge ${groupTypeName(g.type)}`}>{groupTypeName(g.type)}</span>
        </h1>
        <div class="actions">
          {writable ? (
            <button type="button" onClick={() => setPanel(panel === 'restart' ? 'none' : 'restart')} aria-expanded={panel === 'restart'}>
              Restart dependents
            </button>
          ) : null}
          {writable ? (
            <button type="button" class="danger" onClick={() => setPanel(panel === 'delete' ? 'none' : 'delete')} aria-expanded={panel === 'delete'}>
              Delete group
            </button>
          ) : null}
        </div>
      </div>
      <p class="meta">
        scope <strong>{scopeName(g.scope)}</strong> · priority <strong>{g.priority}</strong> · reaches <strong>{restrictionSummary(g.restrictions)}</strong> ·
        revision <strong data-testid="revision">{g.revision}</strong> · updated {time(g.updatedAtMs)} by {g.updatedBy || '—'}
        {g.description ? <> · {g.description}</> : null}
      </p>
      <SaveStatus message={status} />
      {!canRead(me, g) ? <p class="notice">Your role sees the keys of this group but not its values.</p> : null}
      <ErrorBox error={live.error} />
      {panel === 'restart' ? <RestartPanel project={project} group={g} onClose={() => setPanel('none')} /> : null}
      {panel === 'delete' ? (
        <Confirm
          danger
          confirmLabel="Delete"
          busy={busy}
          onCancel={() => setPanel('none')}
          onConfirm={async () => {
            const ok = await run(() => call(SecretGroupServiceDefinition, 'deleteGroup', { project, name: g.name, expectedRevision: g.revision }));
            if (ok) {
              setFlash(`Deleted group ${g.name}. Its history is kept: restore it under "Deleted groups" below.`);
              navigate(href.project(project));
            }
          }}
        >
          <p>
            Delete the group <strong>{g.name}</strong>? Its {Object.keys(g.variables).length} keys and {g.files.length} files stop reaching these
            workloads:
          </p>
          <DependentsList project={project} group={g.name} />
          <p>
            Its history is kept: the project page lists it under <a href={`${href.project(project)}`}>Deleted groups</a> with a <strong>Restore</strong>{' '}
            button that brings it back as it was.
          </p>
          <ErrorBox error={error} />
        </Confirm>
      ) : null}
      <Tabs
        current={tab}
        hrefOf={(id) => href.group(project, g.name, id)}
        tabs={[
          ['variables', `Variables (${Object.keys(g.variables).length})`],
          ['files', `Files (${g.files.length})`],
          ['addons', `Addons (${g.addonLinks.length})`],
          ['settings', 'Settings'],
          ['history', 'History'],
        ]}
      />
      {tab === 'files' ? (
        <FilesTab {...props} />
      ) : tab === 'addons' ? (
        <AddonsTab {...props} />
      ) : tab === 'settings' ? (
        <SettingsTab {...props} />
      ) : tab === 'history' ? (
        <HistoryTab {...props} />
      ) : (
        <VariablesTab {...props} />
      )}
    </section>
  );
}

function Crumbs({ project }: { project: string }) {
  return (
    <p class="crumbs">
      <a href={href.projects()}>Projects</a> / <a href={href.project(project)}>{project}</a> /
    </p>
  );
}

/** The project's workloads, for restriction pickers and dependents. */
