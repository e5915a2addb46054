/** Kubernetes service-account bindings: their names and the bindings a workload has. */
import { echo, invalid } from '../domain/errors.js';
import { deadToken } from '../security/stream-guard.js';
import type { Store, TokenRecord } from '../store/store.js';

/** A Kubernetes service account's "NAMESPACE/NAME", checked (DNS label / DNS subdomain, as Kubernetes names them). */
export function parseServiceAccount(text: string): { namespace: string; name: string; account: string } {
  const m = /^([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9](?:[-.a-z0-9]{0,251}[a-z0-9])?)$/.exec(text);
  if (!m) throw invalid(`service account must be NAMESPACE/NAME (lower-case DNS names, as Kubernetes names them), got ${echo(text)}`);
  return { namespace: m[1]!, name: m[2]!, account: text };
}

/** The live bindings of a workload's current incarnation (`uid`), oldest first. */
export async function workloadBindings(store: Store, now: number, project: string, workload: string, uid: string | undefined): Promise<TokenRecord[]> {
  return (await store.listTokens()).filter(
    (t) => t.k8sServiceAccount && !deadToken(t, now) && t.workload?.project === project && t.workload.workload === workload && (t.workload.uid ?? '') === (uid ?? ''),
  );
}
