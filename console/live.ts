/**
 * Following changes made elsewhere: WatchProject streams a version number that grows with
 * every change to the project (any client, any replica); pages refetch what they show when it
 * moves. If the stream cannot be held, the version ticks every POLL_MS instead (polling).
 */
import { useEffect, useState } from 'preact/hooks';
import { ProjectServiceDefinition } from './gen.js';
import { POLL_MS } from './hooks.js';
import { consoleHeaders } from './api.js';

const WATCH = `/rpc/${ProjectServiceDefinition.fullName}/${ProjectServiceDefinition.methods.watchProject.name}`;

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
        const res = await fetch(WATCH, {
          method: 'POST',
          credentials: 'same-origin',
          headers: consoleHeaders(),
          body: JSON.stringify({ project }),
          signal: abort.signal,
        });
        if (!res.ok || !res.body) return retry();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim()) bump();
          }
        }
      } catch {
        // aborted or dropped
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
