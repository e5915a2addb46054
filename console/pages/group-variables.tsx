/** The key-value editor of a group, its JSON mode, and .env / JSON import. */
import { useEffect, useState } from 'preact/hooks';
import { call, messageOf, type DeepPartial } from '../api.js';
import { GroupType, ImportFormat, SecretGroupServiceDefinition, type PreviewChangeRequest, type SecretGroup, type WorkloadChange } from '../gen.js';
import { useAction } from '../hooks.js';
import { reveal } from '../reveal.js';
import { ErrorBox, Field, Hidden, Loading, MASK, Notice, ReviewActions, TableHead } from '../ui.js';
import { canRead } from '../access.js';
import type { GroupTabProps } from './group-tab.js';
import { applyJson, changeOf, isEmpty, newRow, parseJson, problems, rowsOf, settled, type Change, type Row } from './kv-model.js';
import { PreviewList, previewAll } from './preview.js';

/**
 * Config groups the role may read are shown with their values (fetched per revision); secret
 * groups are masked, each value revealed on request; keys-only roles see "hidden".
 */
export function VariablesTab(props: GroupTabProps) {
  const { project, group, me } = props;
  const plain = group.type === GroupType.GROUP_TYPE_CONFIG && canRead(me, group);
  const [full, setFull] = useState<SecretGroup | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    if (!plain) return;
    let current = true;
    call(SecretGroupServiceDefinition, 'getGroup', { project, name: group.name }).then(
      (r) => current && r.group && (setFull(r.group), setError(undefined)),
      (e) => current && setError(e),
    );
    return () => {
      current = false;
    };
  }, [plain, group.revision]);
  if (!plain) return <Editor {...props} masked hidden={!canRead(me, group)} />;
  if (!full) return error ? <ErrorBox error={error} /> : <Loading what="values" />;
  return <Editor {...props} group={full} masked={false} hidden={false} />;
}

function Editor({ project, group, writable, onSaved, masked, hidden }: GroupTabProps & { masked: boolean; hidden: boolean }) {
  const [rows, setRows] = useState<Row[]>(() => rowsOf(group.variables, masked));
  const [base, setBase] = useState(group.revision);
  const [mode, setMode] = useState<'table' | 'json' | 'import'>('table');
  const [preview, setPreview] = useState<WorkloadChange[] | undefined>(undefined);
  const [busy, error, run, clearError] = useAction();
  const change = changeOf(rows);
  const dirty = !isEmpty(change);
  const bad = problems(rows);

  // Follow changes made elsewhere, unless that would throw away what the user typed.
  useEffect(() => {
    if (group.revision > base && !dirty) {
      setRows(rowsOf(group.variables, masked));
      setBase(group.revision);
    }
  }, [group.revision, dirty]);

  const update = (id: number, patch: Partial<Row>) => setRows((rs) => rs.map((r) => (r.id === id ? { ...r, ...patch } : r)));

  const save = async (c: Change) => {
    const name = group.name;
    let g: SecretGroup | undefined;
    let rev = base;
    if (Object.keys(c.set).length) {
      g = (await call(SecretGroupServiceDefinition, 'setVariables', { project, name, expectedRevision: rev, variables: c.set })).group;
      rev = g?.revision ?? rev;
    }
    if (c.unset.length) {
      g = (await call(SecretGroupServiceDefinition, 'unsetVariables', { project, name, expectedRevision: rev, keys: c.unset })).group;
    }
    return g;
  };

  return (
    <div class="tab-body">
      {group.revision > base && dirty ? (
        <Notice>
          This group changed elsewhere (now revision {group.revision}); your edits are kept, but saving them against revision {base} will be refused.{' '}
          <button
            type="button"
            class="link"
            onClick={() => {
              setRows(rowsOf(group.variables, masked));
              setBase(group.revision);
              setPreview(undefined);
            }}
          >
            Discard my edits and load revision {group.revision}
          </button>
        </Notice>
      ) : null}
      <div class="mode" role="group" aria-label="Editor mode">
        <button type="button" aria-pressed={mode === 'table'} onClick={() => setMode('table')}>
          Table
        </button>
        <button type="button" aria-pressed={mode === 'json'} onClick={() => setMode('json')}>
          JSON
        </button>
        {writable ? (
          <button type="button" aria-pressed={mode === 'import'} onClick={() => setMode('import')}>
            Import .env / JSON
          </button>
        ) : null}
      </div>
      {mode === 'json' ? (
        <JsonMode rows={rows} writable={writable} onApply={(rs) => (setRows(rs), setMode('table'))} />
      ) : mode === 'import' ? (
        <ImportPanel project={project} group={group} onSaved={(g) => (setMode('table'), onSaved(g))} />
      ) : (
        <>
          <table class="kv-editor" aria-label="Variables">
            <TableHead cols={['Key', 'Value']} actions />
            <tbody>
              {rows.map((r, i) => (
                <VariableRow key={r.id} row={r} index={i} problem={bad.get(r.id)} writable={writable} redacted={hidden} project={project} group={group.name} update={update} />
              ))}
              {rows.length === 0 ? (
                <tr>
                  <td colSpan={3} class="muted">
                    No variables yet.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          {writable ? (
            <div class="actions">
              <button type="button" onClick={() => setRows((rs) => [...rs, newRow()])}>
                Add variable
              </button>
              <button
                type="button"
                class="primary"
                disabled={!dirty || bad.size > 0 || busy}
                onClick={async () => {
                  clearError();
                  const changes: DeepPartial<PreviewChangeRequest>[] = [];
                  if (Object.keys(change.set).length) changes.push({ setVariables: { project, name: group.name, expectedRevision: base, variables: change.set } });
                  if (change.unset.length) changes.push({ unsetVariables: { project, name: group.name, expectedRevision: base, keys: change.unset } });
                  const p = await run(() => previewAll(changes));
                  if (p) setPreview(p);
                }}
              >
                Review changes
              </button>
              {dirty ? (
                <button type="button" onClick={() => (setRows(rowsOf(group.variables, masked)), setBase(group.revision), setPreview(undefined), clearError())}>
                  Discard edits
                </button>
              ) : null}
            </div>
          ) : null}
          {preview ? (
            <div class="confirm" role="region" aria-label="Review changes">
              <h3>Before saving</h3>
              <p>
                Keys set: {Object.keys(change.set).join(', ') || 'none'}; keys removed: {change.unset.join(', ') || 'none'}.
              </p>
              <PreviewList changes={preview} />
              <ReviewActions
                busy={busy}
                onBack={() => setPreview(undefined)}
                onSave={async () => {
                  const g = await run(() => save(change));
                  setPreview(undefined);
                  if (g) {
                    // Shown values stay as saved; masked ones mask again. The answer's values
                    // are not used (a console may get them redacted).
                    setRows((rs) => (masked ? rowsOf(g.variables, true) : settled(rs)));
                    setBase(g.revision);
                    onSaved(g);
                  }
                }}
              />
            </div>
          ) : null}
          <ErrorBox error={error} />
        </>
      )}
    </div>
  );
}

function VariableRow({
  row: r,
  index,
  problem,
  writable,
  redacted,
  project,
  group,
  update,
}: {
  row: Row;
  index: number;
  problem: string | undefined;
  writable: boolean;
  redacted: boolean;
  project: string;
  group: string;
  update: (id: number, patch: Partial<Row>) => void;
}) {
  const [revealError, setRevealError] = useState<string | undefined>(undefined);
  const n = index + 1;
  const errId = `key-error-${r.id}`;
  return (
    <tr class={r.removed ? 'removed' : r.edited || r.orig === undefined || r.key !== r.orig ? 'edited' : ''} data-key={r.orig ?? r.key}>
      <td>
        {writable && !r.removed ? (
          <input
            class="key-input"
            aria-label={`Key ${n}`}
            value={r.key}
            spellcheck={false}
            aria-invalid={problem ? 'true' : undefined}
            aria-describedby={problem ? errId : undefined}
            onInput={(e) => update(r.id, { key: e.currentTarget.value })}
          />
        ) : (
          <code>{r.key}</code>
        )}
        {problem ? (
          <div class="error small" id={errId} role="alert">
            {problem}
          </div>
        ) : null}
      </td>
      <td>
        {redacted && r.orig !== undefined && !r.edited ? (
          <Hidden />
        ) : writable && !r.removed ? (
          <span class="value-cell">
            <textarea
              class="value-input"
              rows={1}
              aria-label={`Value ${n}`}
              value={r.value}
              spellcheck={false}
              placeholder={r.known ? '' : `${MASK} (unchanged)`}
              onInput={(e) => update(r.id, { value: e.currentTarget.value, known: true, edited: true })}
            />
            {!r.known ? (
              <RevealButton
                label={r.key}
                onReveal={async () => {
                  setRevealError(undefined);
                  try {
                    const v = await reveal({ kind: 'group', project, group, key: r.orig! });
                    update(r.id, { value: v, known: true });
                  } catch (e) {
                    setRevealError(messageOf(e));
                  }
                }}
              />
            ) : null}
          </span>
        ) : r.known ? (
          <code class="value">{r.value}</code>
        ) : (
          <span class="value-cell">
            <span class="mask">{MASK}</span>
            <RevealButton
              label={r.key}
              onReveal={async () => {
                setRevealError(undefined);
                try {
                  update(r.id, { value: await reveal({ kind: 'group', project, group, key: r.orig! }), known: true });
                } catch (e) {
                  setRevealError(messageOf(e));
                }
              }}
            />
          </span>
        )}
        {revealError ? (
          <div class="error small" role="alert">
            {revealError}
          </div>
        ) : null}
      </td>
      <td class="row-actions">
        {writable ? (
          r.removed ? (
            <button type="button" class="link" aria-label={`Keep ${r.orig}`} onClick={() => update(r.id, { removed: false })}>
              Undo remove
            </button>
          ) : (
            <button type="button" class="link" aria-label={`Remove ${r.key || `row ${n}`}`} onClick={() => update(r.id, { removed: true })}>
              Remove
            </button>
          )
        ) : null}
      </td>
    </tr>
  );
}

function RevealButton({ label, onReveal }: { label: string; onReveal: () => void }) {
  return (
    <button type="button" class="link" aria-label={`Reveal ${label}`} onClick={onReveal}>
      Reveal
    </button>
  );
}

/** The variables as one JSON object; applying it updates the rows (review and save as usual). */
function JsonMode({ rows, writable, onApply }: { rows: Row[]; writable: boolean; onApply: (rows: Row[]) => void }) {
  const hiddenCount = rows.filter((r) => !r.removed && !r.known).length;
  const [text, setText] = useState(() => {
    const o: Record<string, string> = {};
    for (const r of rows) if (!r.removed && r.known && r.key) o[r.key] = r.value;
    return JSON.stringify(o, null, 2);
  });
  const [error, setError] = useState<string | undefined>(undefined);
  return (
    <div class="json-mode">
      {hiddenCount ? <Notice>{hiddenCount} masked values are not shown here and stay as they are; reveal them in the table to edit them as JSON.</Notice> : null}
      <Field label="Variables as JSON">
        <textarea class="code" rows={14} spellcheck={false} readOnly={!writable} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </Field>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {writable ? (
        <button
          type="button"
          class="primary"
          onClick={() => {
            let obj: unknown;
            try {
              obj = parseJson(text);
            } catch (e) {
              return setError(messageOf(e));
            }
            if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return setError('The JSON must be an object of "KEY": "value" pairs.');
            const bad = Object.entries(obj).find(([, v]) => typeof v !== 'string');
            if (bad) return setError(`The value of "${bad[0]}" must be a string.`);
            setError(undefined);
            onApply(applyJson(rows, obj as Record<string, string>));
          }}
        >
          Apply to the table
        </button>
      ) : null}
    </div>
  );
}

function ImportPanel({ project, group, onSaved }: { project: string; group: SecretGroup; onSaved: (g: SecretGroup | undefined) => void }) {
  const [content, setContent] = useState('');
  const [format, setFormat] = useState<ImportFormat>(ImportFormat.IMPORT_FORMAT_DOTENV);
  const [replace, setReplace] = useState(false);
  // Pasted secrets are opaque: stored as written unless asked to treat ${KEY} as templates.
  const [literal, setLiteral] = useState(true);
  const [preview, setPreview] = useState<WorkloadChange[] | undefined>(undefined);
  const [busy, error, run, clearError] = useAction();
  const req = { project, name: group.name, expectedRevision: group.revision, format, content, replace, literal };
  // Where the two defaults differ in effect, say which one applies (counted lines, never their text).
  const templated = content.split('\n').filter((l) => l.includes('${')).length;
  return (
    <form
      class="import"
      aria-label="Import variables"
      onSubmit={async (e) => {
        e.preventDefault();
        clearError();
        const p = await run(async () => (await call(SecretGroupServiceDefinition, 'previewChange', { importVariables: req })).changes);
        if (p) setPreview(p);
      }}
    >
      <Field label="Format">
        <select value={format} onChange={(e) => (setFormat(Number(e.currentTarget.value) as ImportFormat), setPreview(undefined))}>
          <option value={ImportFormat.IMPORT_FORMAT_DOTENV}>.env</option>
          <option value={ImportFormat.IMPORT_FORMAT_JSON}>JSON</option>
        </select>
      </Field>
      <Field label="File to import">
        <input
          type="file"
          accept=".env,.json,text/plain,application/json"
          onChange={async (e) => {
            const f = e.currentTarget.files?.[0];
            if (!f) return;
            setContent(await f.text());
            if (f.name.endsWith('.json')) setFormat(ImportFormat.IMPORT_FORMAT_JSON);
            setPreview(undefined);
          }}
        />
      </Field>
      <Field label="Or paste the content">
        <textarea class="code" rows={10} spellcheck={false} value={content} onInput={(e) => (setContent(e.currentTarget.value), setPreview(undefined))} />
      </Field>
      <label class="check">
        <input type="checkbox" checked={replace} onChange={(e) => (setReplace(e.currentTarget.checked), setPreview(undefined))} /> Replace all variables (otherwise
        merge)
      </label>
      <label class="check">
        <input type="checkbox" checked={literal} onChange={(e) => (setLiteral(e.currentTarget.checked), setPreview(undefined))} /> Store values exactly as written
        (off: {'${KEY}'} refers to another variable of the group)
      </label>
      <p class="muted small">
        The CLI's <code>sg group import</code> defaults the other way: templates, unless <code>--literal</code>.
      </p>
      {templated > 0 ? (
        <Notice>
          {templated} {templated === 1 ? 'line holds' : 'lines hold'} <code>{'${'}</code>:{' '}
          {literal
            ? 'stored exactly as written, not as templates (as sg group import --literal would).'
            : 'read as ${KEY} templates of this group (as sg group import would); a password holding ${ is refused or changed: tick the box above to keep it as written.'}
        </Notice>
      ) : null}
      <div class="actions">
        <button type="submit" disabled={busy || !content}>
          Preview import
        </button>
      </div>
      {preview ? (
        <div class="confirm" role="region" aria-label="Review import">
          <PreviewList changes={preview} />
          <button
            type="button"
            class="primary"
            disabled={busy}
            onClick={async () => {
              const res = await run(() => call(SecretGroupServiceDefinition, 'importVariables', req));
              setPreview(undefined);
              if (res) {
                setContent('');
                onSaved(res.group);
              }
            }}
          >
            Import
          </button>
        </div>
      ) : null}
      <ErrorBox error={error} />
    </form>
  );
}
