import type { Addon } from '../gen.js';
import { MaskedValue } from '../masked.js';

export function AddonDetails({ project, addon, canRead }: { project: string; addon: Addon; canRead: boolean }) {
  const keys = Object.keys(addon.connectionDetails).sort();
  return (
    <div class="card" data-addon={addon.name}>
      <h3>
        {addon.name} <span class="muted small">{addon.type}</span>
      </h3>
      <table class="kv" aria-label={`Connection details of ${addon.name}`}>
        <tbody>
          {keys.map((k) => (
            <tr>
              <th scope="row">
                <code>{k}</code>
              </th>
              <td>
                <MaskedValue target={{ kind: 'addon', project, addon: addon.name, key: k }} redacted={!canRead} label={`${addon.name} ${k}`} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
