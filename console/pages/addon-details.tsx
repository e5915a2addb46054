/**
 * An addon's connection details (masked, revealed one at a time) and, for project admins,
 * rotation (merge, remove, or replace the details) and deletion, which names the groups that
 * link it: the server refuses while any does.
 */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { ProjectServiceDefinition, type Addon } from '../gen.js';
import { useAction } from '../hooks.js';
import { MaskedTable } from '../masked.js';
import { href } from '../router.js';
import { Confirm, ErrorBox, Field } from '../ui.js';

/** "KEY=VALUE" lines -> a map; the first malformed line is reported by number. */
export function parseDetails(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`Connection details, line ${i + 1}: expected KEY=VALUE`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  });
  return out;
}

interface Props {
  project: string;
  addon: Addon;
  canRead: boolean;
  admin: boolean;
  /** Groups that link this addon (from the project's group list). */
  linkedBy: string[];
  /** Says what a change did and refreshes the page. */
  onChanged: (message: string) => Promise<void>;
}

export function AddonDetails({ project, addon, canRead, admin, linkedBy, onChanged }: Props) {
  const keys = Object.keys(addon.connectionDetails).sort();
  const [panel, setPanel] = useState<'none' | 'update' | 'delete'>('none');
  const [busy, error, run, clear] = useAction();
  const toggle = (p: 'update' | 'delete') => (clear(), setPanel(panel === p ? 'none' : p));
  return (
    <div class="card" data-addon={addon.name}>
      <div class="title-row">
        <h3>
          {addon.name} <span class="muted small">{addon.type}</span>
        </h3>
        {admin ? (
          <div class="actions">
            <button type="button" aria-expanded={panel === 'update'} aria-label={`Update details of ${addon.name}`} onClick={() => toggle('update')}>
              Update details
            </button>
            <button type="button" class="danger" aria-expanded={panel === 'delete'} aria-label={`Delete addon ${addon.name}`} onClick={() => toggle('delete')}>
              Delete
            </button>
          </div>
        ) : null}
      </div>
      <MaskedTable
        label={`Connection details of ${addon.name}`}
        keys={keys}
        target={(k) => ({ kind: 'addon', project, addon: addon.name, key: k })}
        redacted={!canRead}
        labelOf={(k) => `${addon.name} ${k}`}
      />
      <p class="muted small">
        Linked by: {linkedBy.length ? linkedBy.map((g, i) => <>{i ? ', ' : ''}<a href={href.group(project, g, 'addons')}>{g}</a></>) : 'no group'}
      </p>
      {panel === 'update' ? (
        <UpdateForm
          addon={addon}
          keys={keys}
          busy={busy}
          onCancel={() => setPanel('none')}
          onSubmit={async (req) => {
            const res = await run(() => call(ProjectServiceDefinition, 'updateAddon', { project, name: addon.name, expectedRevision: addon.revision, ...req }));
            if (!res) return;
            setPanel('none');
            await onChanged(
              res.unchanged
                ? `Addon ${addon.name}: nothing changed.`
                : `Saved: addon ${addon.name} is now at revision ${res.addon?.revision}; ${linkedBy.length ? `the workloads of ${linkedBy.join(', ')} re-resolve` : 'no group links it'}.`,
            );
          }}
        />
      ) : null}
      {panel === 'delete' ? (
        <Confirm
          danger
          confirmLabel={`Delete ${addon.name}`}
          busy={busy}
          disabled={linkedBy.length > 0}
          onCancel={() => setPanel('none')}
          onConfirm={async () => {
            const ok = await run(() => call(ProjectServiceDefinition, 'deleteAddon', { project, name: addon.name, expectedRevision: addon.revision }));
            if (ok) await onChanged(`Deleted addon ${addon.name}.`);
          }}
        >
          {linkedBy.length ? (
            <p>
              <strong>{addon.name}</strong> cannot be deleted while groups link it: {linkedBy.join(', ')}. Unlink it in each group's Addons tab first.
            </p>
          ) : (
            <p>
              Delete the addon <strong>{addon.name}</strong> and its {keys.length} connection details? No group links it; this cannot be undone.
            </p>
          )}
        </Confirm>
      ) : null}
      <ErrorBox error={error} />
    </div>
  );
}

type UpdateRequest = { connectionDetails: Record<string, string>; merge: boolean; unsetDetails: string[] };

function UpdateForm({
  addon,
  keys,
  busy,
  onCancel,
  onSubmit,
}: {
  addon: Addon;
  keys: string[];
  busy: boolean;
  onCancel: () => void;
  onSubmit: (req: UpdateRequest) => Promise<void>;
}) {
  const [text, setText] = useState('');
  const [replace, setReplace] = useState(false);
  const [remove, setRemove] = useState<string[]>([]);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  return (
    <form
      class="inline"
      aria-label={`Update ${addon.name}`}
      onSubmit={async (e) => {
        e.preventDefault();
        let details: Record<string, string>;
        try {
          details = parseDetails(text);
        } catch (err) {
          setProblem((err as Error).message);
          return;
        }
        setProblem(undefined);
        await onSubmit(replace ? { connectionDetails: details, merge: false, unsetDetails: [] } : { connectionDetails: details, merge: true, unsetDetails: remove });
      }}
    >
      <Field label="New or changed details" hint="one KEY=VALUE per line; values are sent, never shown back">
        <textarea class="code" rows={3} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </Field>
      <label class="check">
        <input type="checkbox" checked={replace} onChange={(e) => setReplace(e.currentTarget.checked)} /> Replace every detail (keys not given are removed)
      </label>
      {!replace && keys.length ? (
        <fieldset>
          <legend>Remove</legend>
          {keys.map((k) => (
            <label class="check">
              <input
                type="checkbox"
                aria-label={`Remove ${k}`}
                checked={remove.includes(k)}
                onChange={(e) => setRemove(e.currentTarget.checked ? [...remove, k] : remove.filter((x) => x !== k))}
              />{' '}
              <code>{k}</code>
            </label>
          ))}
        </fieldset>
      ) : null}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy || (!text.trim() && !remove.length)}>
          Save details
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {problem ? (
        <p class="error" role="alert">
          {problem}
        </p>
      ) : null}
    </form>
  );
}
