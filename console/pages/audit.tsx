import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { AccessServiceDefinition } from '../gen.js';
import { time } from '../format.js';
import { useLive } from '../hooks.js';
import { ErrorBox, Field, Loading, TableHead } from '../ui.js';

interface Filters {
  project: string;
  actor: string;
  action: string;
  since: string;
}

/** Events per page. */
export const AUDIT_PAGE = 50;

/**
 * Newest first, a page at a time: the first page follows new events live; "Older events"
 * moves to the page after the last event shown (the server's cursor), "Newer events" back.
 */
export function AuditPage() {
  const [filters, setFilters] = useState<Filters>({ project: '', actor: '', action: '', since: '' });
  // Cursors of the pages opened with "Older events" (the last one is shown); empty: the newest.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1] ?? '';
  const events = useLive(
    () =>
      call(AccessServiceDefinition, 'listAuditEvents', {
        project: filters.project.trim(),
        actor: filters.actor.trim(),
        action: filters.action.trim(),
        sinceMs: filters.since ? Date.parse(filters.since) || 0 : 0,
        limit: AUDIT_PAGE,
        cursor,
      }),
    [JSON.stringify(filters), cursor],
    cursor === '',
  );
  const shown = events.data?.events;
  const next = events.data?.nextCursor ?? '';
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
          setCursors([]);
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
      {!shown ? (
        <Loading what="audit events" />
      ) : (
        <table class="list" aria-label="Audit events">
          <TableHead cols={['Time', 'Actor', 'Action', 'Project', 'Target', 'Keys', 'Outcome']} />
          <tbody>
            {shown.map((e) => (
              <tr data-event={e.id} class={e.outcome !== 'ok' ? 'refused' : ''}>
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
            {shown.length === 0 ? (
              <tr>
                <td colSpan={7} class="muted">
                  {cursor ? 'No older event matches.' : 'No event matches.'}
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Audit pages">
        {cursors.length ? (
          <>
            <button type="button" onClick={() => setCursors([])}>
              Newest events
            </button>
            <button type="button" onClick={() => setCursors(cursors.slice(0, -1))}>
              Newer events
            </button>
          </>
        ) : null}
        {next && cursor !== next ? (
          <button type="button" onClick={() => setCursors([...cursors, next])}>
            Older events
          </button>
        ) : null}
        {cursors.length ? <span class="muted small">Page {cursors.length + 1}; only the newest page updates live.</span> : null}
      </nav>
    </section>
  );
}
