/**
 * Following changes made elsewhere: WatchProject streams a version number that grows with
 * every change to the project (any client, any replica); pages refetch what they show when it
 * moves. If the stream cannot be held, the version ticks every POLL_MS instead (polling).
 */
import { useEffect, useState } from 'preact/hooks';
import { ProjectServiceDefinition } from './gen.js';
import { POLL_MS } from './hooks.js';
import { serverStream } from './api.js';

export function useProjectVersion(project: string): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let stopped = false;
    let abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bump = () => setVersion((v) => v + 1);
    const retry = () => {
      if (stopped) return;
      // While disconnected, refetch on every retry so the page still follows changes.
      bump();
      timer = setTimeout(connect, POLL_MS);
    };
    const connect = async () => {
      abort = new AbortController();
      try {
        // The first message, and every one whose version moved, means "refetch what is shown";
        // the same version again is the server's keep-alive.
        let seen: number | undefined;
        await serverStream(ProjectServiceDefinition, 'watchProject', { project }, ({ version }) => {
          if (version !== seen) bump();
          seen = version;
        }, abort.signal);
      } catch {
        // aborted, refused or dropped
      }
      retry();
    };
    void connect();
    return () => {
      stopped = true;
      abort.abort();
      clearTimeout(timer);
    };
  }, [project]);
  return version;
}
