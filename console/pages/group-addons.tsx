/** Addon links of a group: which keys of which addon, under which alias. */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { ProjectServiceDefinition, SecretGroupServiceDefinition } from '../gen.js';
import { useAction, useLive } from '../hooks.js';
import { Confirm, ErrorBox, Field, TableHead } from '../ui.js';
import type { GroupTabProps } from './group-tab.js';
import { PreviewOf, UndoByRollback } from './preview.js';

/** The alias a linked key gets by default (as the server computes it). */
export const defaultAlias = (addon: string, key: string) => `${addon}_${key}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

export function AddonsTab({ project, group, writable, version, onSaved }: GroupTabProps) {
  const addons = useLive(async () => (await call(ProjectServiceDefinition, 'listAddons', { project, keysOnly: true })).addons, [project, version], false);
  const [busy, error, run] = useAction();
  const [addon, setAddon] = useState('');
  const [unlinking, setUnlinking] = useState<string | undefined>(undefined);
  const [picked, setPicked] = useState<Record<string, { on: boolean; alias: string }>>({});
  const chosen = addons.data?.find((a) => a.name === addon);
  return (
    <div class="tab-body">
      <table class="list" aria-label="Addon links">
        <TableHead cols={['Addon', 'Keys and aliases']} actions />
        <tbody>
          {group.addonLinks.map((l) => (
            <tr data-addon={l.addon}>
              <td>{l.addon}</td>
              <td>
                {l.keys.length === 0
                  ? 'every key, default aliases'
                  : l.keys.map((k) => (
                      <span class="alias">
                        <code>{k.key}</code> → <code>{k.alias || defaultAlias(l.addon, k.key)}</code>
                      </span>
                    ))}
              </td>
              <td>
                {writable ? (
                  <button
                    type="button"
                    class="link"
                    aria-label={`Unlink ${l.addon}`}
                    disabled={busy}
                    onClick={() => setUnlinking(l.addon)}
                  >
                    Unlink
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
          {group.addonLinks.length === 0 ? (
            <tr>
              <td colSpan={3} class="muted">
                No addon linked.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {unlinking ? (
        <Confirm
          danger
          confirmLabel={`Unlink ${unlinking}`}
          busy={busy}
          onCancel={() => setUnlinking(undefined)}
          onConfirm={async () => {
            const res = await run(() => call(SecretGroupServiceDefinition, 'unlinkAddon', { project, name: group.name, expectedRevision: group.revision, addon: unlinking }));
            setUnlinking(undefined);
            if (res) onSaved(res.group);
          }}
        >
          <p>
            Unlink the addon <strong>{unlinking}</strong> from {group.name}? The workloads it reaches lose the variables it brings (or take a lower-priority group's):
          </p>
          <PreviewOf change={{ unlinkAddon: { project, name: group.name, expectedRevision: group.revision, addon: unlinking } }} />
          <UndoByRollback project={project} group={group.name} revision={group.revision} />
        </Confirm>
      ) : null}
      {writable ? (
        <form
          class="inline"
          aria-label="Link an addon"
          onSubmit={async (e) => {
            e.preventDefault();
            const keys = Object.entries(picked)
              .filter(([, p]) => p.on)
              .map(([key, p]) => ({ key, alias: p.alias.trim() }));
            const res = await run(() => call(SecretGroupServiceDefinition, 'linkAddon', { project, name: group.name, expectedRevision: group.revision, addon, keys }));
            if (res) {
              setAddon('');
              setPicked({});
              onSaved(res.group);
            }
          }}
        >
          <h3>Link an addon</h3>
          <Field label="Addon">
            <select value={addon} required onChange={(e) => (setAddon(e.currentTarget.value), setPicked({}))}>
              <option value="">— choose —</option>
              {(addons.data ?? []).map((a) => (
                <option value={a.name}>
                  {a.name} ({a.type})
                </option>
              ))}
            </select>
          </Field>
          {chosen ? (
            <fieldset>
              <legend>Keys to link (none checked: every key under its default alias)</legend>
              {Object.keys(chosen.connectionDetails)
                .sort()
                .map((k) => (
                  <div class="link-key">
                    <label class="check">
                      <input
                        type="checkbox"
                        checked={picked[k]?.on ?? false}
                        onChange={(e) => setPicked({ ...picked, [k]: { on: e.currentTarget.checked, alias: picked[k]?.alias ?? '' } })}
                      />{' '}
                      <code>{k}</code>
                    </label>
                    <Field label={`Alias for ${k}`}>
                      <input
                        value={picked[k]?.alias ?? ''}
                        placeholder={defaultAlias(chosen.name, k)}
                        onInput={(e) => setPicked({ ...picked, [k]: { on: true, alias: e.currentTarget.value } })}
                      />
                    </Field>
                  </div>
                ))}
            </fieldset>
          ) : null}
          <button type="submit" class="primary" disabled={busy || !addon}>
            Link addon
          </button>
        </form>
      ) : null}
      <ErrorBox error={error ?? addons.error} />
    </div>
  );
}
