import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { signIn, type Me } from '../session.js';
import { ErrorBox, Field, Notice } from '../ui.js';

export function SignIn({ onSignedIn, message }: { onSignedIn: (me: Me | undefined) => void; message?: string | undefined }) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  // The page opens on this form: start typing the token at once.
  useEffect(() => field.current?.focus(), []);
  return (
    <main class="sign-in">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const input = form.elements.namedItem('token') as HTMLInputElement;
          setBusy(true);
          setError(undefined);
          try {
            const me = await signIn(input.value.trim());
            input.value = '';
            onSignedIn(me);
          } catch (err) {
            setError(
              err instanceof ApiError && (err.code === 'UNAUTHENTICATED' || err.code === 'PERMISSION_DENIED')
                ? new Error('That token was not accepted: it is unknown, revoked or expired.')
                : err,
            );
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>secret-groups</h1>
        <p class="muted">
          Sign in with an API token. The first <code>sg serve</code> prints an admin token and keeps it in <code>data/admin.token</code>.
        </p>
        {message ? <Notice>{message}</Notice> : null}
        <Field label="Token">
          <input ref={field} name="token" type="password" autocomplete="off" spellcheck={false} required />
        </Field>
        <ErrorBox error={error} />
        <button class="primary" type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
