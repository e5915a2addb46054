import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** How often an open page asks for what changed elsewhere (another user, the CLI). */
export const POLL_MS = 2000;

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  reload: () => Promise<void>;
}

/**
 * Loads `load()` now, whenever `deps` change (such as the project's change version), and, with
 * `poll`, every POLL_MS while the page is visible, so a page follows changes made elsewhere
 * without a reload. The last good data stays on screen while refetching and after a refusal
 * (kept as `error`); pages are keyed by what they show, so data never leaks across pages.
 */
export function useLive<T>(load: () => Promise<T>, deps: unknown[], poll = true): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const seq = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const d = await loadRef.current();
      if (mine !== seq.current) return;
      setData(d);
      setError(undefined);
    } catch (e) {
      if (mine === seq.current) setError(e);
    }
  }, []);
  useEffect(() => {
    void reload();
    if (!poll) return;
    const t = setInterval(() => {
      if (document.visibilityState !== 'hidden') void reload();
    }, POLL_MS);
    return () => clearInterval(t);
  }, deps);
  return { data, error, reload };
}

/** Runs an action, exposing busy and error state; the error stays until the next run. */
export function useAction(): [busy: boolean, error: unknown, run: <T>(fn: () => Promise<T>) => Promise<T | undefined>, clear: () => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = useCallback(async <T,>(fn: () => Promise<T>) => {
    setBusy(true);
    setError(undefined);
    try {
      return await fn();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return [busy, error, run, () => setError(undefined)];
}
