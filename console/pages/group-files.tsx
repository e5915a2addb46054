/** Secret files of a group: path, mode and size; upload or paste a new one; remove. */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { SecretGroupServiceDefinition } from '../gen.js';
import { canRead } from '../access.js';
import { octal } from '../format.js';
import { useAction } from '../hooks.js';
import { Confirm, ErrorBox, Field, TableHead } from '../ui.js';
import type { GroupTabProps } from './group-tab.js';
import { PreviewOf, UndoByRollback } from './preview.js';

export function FilesTab({ project, group, me, writable, onSaved }: GroupTabProps) {
  const [removing, setRemoving] = useState<string | undefined>(undefined);
  const [busy, error, run] = useAction();
  const [upload, setUpload] = useState<Uint8Array | undefined>(undefined);
  const [path, setPath] = useState('');
  const [mode, setMode] = useState('0600');
  const [text, setText] = useState('');
  return (
    <div class="tab-body">
      <table class="list" aria-label="Secret files">
        <TableHead cols={['Path', 'Mode', ['Size', 'num']]} actions />
        <tbody>
          {group.files.map((f) => (
            <tr data-path={f.path}>
              <td>
                <code>{f.path}</code>
              </td>
              <td>{octal(f.mode)}</td>
              <td class="num">{canRead(me, group) ? `${f.size} B` : 'hidden'}</td>
              <td>
                {writable ? (
                  <button type="button" class="link" aria-label={`Remove ${f.path}`} onClick={() => setRemoving(f.path)}>
                    Remove
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
          {group.files.length === 0 ? (
            <tr>
              <td colSpan={4} class="muted">
                No secret files.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <p class="muted small">File contents are not shown here; agents write them under their --files-root.</p>
      {removing ? (
        <Confirm
          danger
          confirmLabel="Remove file"
          busy={busy}
          onCancel={() => setRemoving(undefined)}
          onConfirm={async () => {
            const res = await run(() => call(SecretGroupServiceDefinition, 'removeFile', { project, name: group.name, expectedRevision: group.revision, path: removing }));
            setRemoving(undefined);
            if (res) onSaved(res.group);
          }}
        >
          <p>
            Remove <code>{removing}</code> from {group.name}? The workloads it reaches lose the file (or fall back to a lower-priority group's):
          </p>
          <PreviewOf change={{ removeFile: { project, name: group.name, expectedRevision: group.revision, path: removing } }} />
          <UndoByRollback project={project} group={group.name} revision={group.revision} />
        </Confirm>
      ) : null}
      {writable ? (
        <form
          class="inline"
          aria-label="Add a secret file"
          onSubmit={async (e) => {
            e.preventDefault();
            const m = /^0?[0-7]{3,4}$/.test(mode) ? parseInt(mode, 8) : NaN;
            const content = upload ?? new TextEncoder().encode(text);
            const res = await run(async () => {
              if (Number.isNaN(m)) throw new Error('The mode must be octal, such as 0600 or 0640.');
              return call(SecretGroupServiceDefinition, 'addFile', {
                project,
                name: group.name,
                expectedRevision: group.revision,
                file: { path: path.trim(), mode: m, content },
              });
            });
            if (res) {
              setPath('');
              setText('');
              setUpload(undefined);
              (e.currentTarget as HTMLFormElement | null)?.reset();
              onSaved(res.group);
            }
          }}
        >
          <h3>Add a secret file</h3>
          <Field label="Path" hint="absolute, such as /etc/app/tls.key">
            <input value={path} required onInput={(e) => setPath(e.currentTarget.value)} />
          </Field>
          <Field label="Mode">
            <input value={mode} size={5} onInput={(e) => setMode(e.currentTarget.value)} />
          </Field>
          <Field label="Upload file">
            <input
              type="file"
              onChange={async (e) => {
                const f = e.currentTarget.files?.[0];
                setUpload(f ? new Uint8Array(await f.arrayBuffer()) : undefined);
              }}
            />
          </Field>
          <Field label="Or paste the content">
            <textarea class="code" rows={4} value={text} disabled={!!upload} onInput={(e) => setText(e.currentTarget.value)} />
          </Field>
          <button type="submit" class="primary" disabled={busy}>
            Add file
          </button>
        </form>
      ) : null}
      <ErrorBox error={error} />
    </div>
  );
}
