import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { AccessServiceDefinition } from '../gen.js';
import { time } from '../format.js';
import { useLive } from '../hooks.js';
import { ErrorBox, Field, Loading } from '../ui.js';

interface Filters {
  project: string;
  actor: string;
  action: string;
  since: string;
}

export function AuditPage() {
  const [filters, setFilters] = useState<Filters>({ project: '', actor: '', action: '', since: '' });
  const events = useLive(
    async () =>
      (
        await call(AccessServiceDefinition, 'listAuditEvents', {
          project: filters.project.trim(),
          actor: filters.actor.trim(),
          action: filters.action.trim(),
          sinceMs: filters.since ? Date.parse(filters.since) || 0 : 0,
          limit: 200,
        })
      ).events,
    [JSON.stringify(filters)],
  );
  return (
    <section>
      <h1>Audit log</h1>
      <form
        class="inline filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          const f = e.currentTarget.elements;
          const v = (n: string) => (f.namedItem(n) as HTMLInputElement).value;
          setFilters({ project: v('project'), actor: v('actor'), action: v('action'), since: v('since') });
        }}
      >
        <Field label="Project">
          <input name="project" />
        </Field>
        <Field label="Actor">
          <input name="actor" />
        </Field>
        <Field label="Action">
          <input name="action" placeholder="SetVariables" />
        </Field>
        <Field label="Since">
          <input name="since" type="datetime-local" />
        </Field>
        <button type="submit">Filter</button>
      </form>
      <ErrorBox error={events.error} />
      {!events.data ? (
        <Loading what="audit events" />
      ) : (
        <table class="list" aria-label="Audit events">
          <thead>
            <tr>
              <th>Time</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Project</th>
              <th>Target</th>
              <th>Keys</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            {events.data.map((e) => (
              <tr class={e.outcome !== 'ok' ? 'refused' : ''}>
                <td class="nowrap">{time(e.timeMs)}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>{e.project}</td>
                <td>{e.target}</td>
                <td>
                  {e.keys.map((k) => (
                    <code class="key">{k}</code>
                  ))}
                </td>
                <td title={e.detail}>{e.outcome}</td>
              </tr>
            ))}
            {events.data.length === 0 ? (
              <tr>
                <td colSpan={7} class="muted">
                  No event matches.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      )}
    </section>
  );
}
