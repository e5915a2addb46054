/** A masked value with a Reveal button; revealed values are rendered as text only. */
import { useState } from 'preact/hooks';
import { messageOf } from './api.js';
import { reveal, type RevealTarget } from './reveal.js';
import { Hidden, MASK } from './ui.js';

export function MaskedValue({ target, redacted, label }: { target: RevealTarget; redacted: boolean; label: string }) {
  const [value, setValue] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  if (redacted) return <Hidden />;
  if (value !== undefined)
    return (
      <span class="value-cell">
        <code class="value">{value}</code>
        <button type="button" class="link" onClick={() => setValue(undefined)} aria-label={`Hide ${label}`}>
          Hide
        </button>
      </span>
    );
  return (
    <span class="value-cell">
      <span class="mask" aria-label="masked value">
        {MASK}
      </span>
      <button
        type="button"
        class="link"
        aria-label={`Reveal ${label}`}
        onClick={async () => {
          setError(undefined);
          try {
            setValue(await reveal(target));
          } catch (e) {
            setError(messageOf(e));
          }
        }}
      >
        Reveal
      </button>
      {error ? (
        <span class="error small" role="alert">
          {error}
        </span>
      ) : null}
    </span>
  );
}

/** A table of keys and their values, masked (each revealed on demand): one row a key. */
export function MaskedTable(p: { label: string; keys: string[]; target: (key: string) => RevealTarget; redacted: boolean; labelOf?: (key: string) => string }) {
  return (
    <table class="kv" aria-label={p.label}>
      <tbody>
        {p.keys.map((k) => (
          <tr>
            <th scope="row">
              <code>{k}</code>
            </th>
            <td>
              <MaskedValue target={p.target(k)} redacted={p.redacted} label={p.labelOf ? p.labelOf(k) : k} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
