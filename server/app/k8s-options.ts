/**
 * Where `sg serve` finds the Kubernetes API server that reviews service-account tokens:
 * `--k8s-api URL [--k8s-ca FILE] [--k8s-token-file FILE] [--k8s-audience AUD]`, or, run in a pod
 * with none of them given, the in-cluster defaults (KUBERNETES_SERVICE_HOST/PORT and the pod's
 * own service-account token and CA). `--k8s-api off` turns it off even in a pod.
 */
import { existsSync } from 'node:fs';
// Types only: the CLI loads this module for every command, the https client only `sg serve`.
import type { KubeApiConfig } from '../security/k8s/kube-api.js';

/** The audience a workload's token must be for unless --k8s-audience says otherwise. */
export const DEFAULT_AUDIENCE = 'secret-groups';

/** Where a pod's own service-account credential is mounted. */
export const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface K8sSettings {
  api?: string;
  ca?: string;
  tokenFile?: string;
  audience?: string;
}

/** Thrown for a bad combination; the caller turns it into a usage error. */
export class K8sSettingsError extends Error {}

/**
 * The API server configuration, or undefined when Kubernetes identity is off. `exists` is
 * injectable for tests; `dir` is the in-cluster credential directory.
 */
export function kubeApiConfig(s: K8sSettings, env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync, dir = IN_CLUSTER_DIR): KubeApiConfig | undefined {
  if (s.api === 'off') return undefined;
  const audience = s.audience ?? DEFAULT_AUDIENCE;
  if (!/^[\x21-\x7e]{1,253}$/.test(audience)) throw new K8sSettingsError(`--k8s-audience must be printable ASCII without spaces (at most 253 characters), got ${JSON.stringify(audience.slice(0, 40))}`);
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const token = `${dir}/token`;
  const ca = `${dir}/ca.crt`;
  const inPod = Boolean(host && port && exists(token) && exists(ca));
  if (s.api === undefined) {
    if (s.ca !== undefined || s.tokenFile !== undefined) throw new K8sSettingsError('--k8s-ca and --k8s-token-file need --k8s-api URL');
    // Only the audience, or nothing at all: the in-cluster defaults when in a pod.
    if (!inPod) {
      if (s.audience !== undefined) throw new K8sSettingsError('--k8s-audience needs --k8s-api URL (or running in a Kubernetes pod)');
      return undefined;
    }
    const h = host!.includes(':') ? `[${host}]` : host!;
    return { url: `https://${h}:${port}`, caFile: ca, tokenFile: token, audience };
  }
  let url: URL;
  try {
    url = new URL(s.api);
  } catch {
    throw new K8sSettingsError(`--k8s-api must be an https:// URL or off, got ${JSON.stringify(s.api.slice(0, 80))}`);
  }
  if (url.protocol !== 'https:') throw new K8sSettingsError(`--k8s-api must be an https:// URL (TokenReviews carry credentials), got ${url.protocol}//…`);
  if (url.username || url.password || url.search || url.hash) throw new K8sSettingsError('--k8s-api must hold no credentials, query or fragment');
  // Explicit flags win; a missing CA or token file falls back to the pod's own when present.
  const caFile = s.ca ?? (exists(ca) ? ca : undefined);
  const tokenFile = s.tokenFile ?? (exists(token) ? token : undefined);
  if (!tokenFile) throw new K8sSettingsError(`--k8s-api needs --k8s-token-file FILE: the server's own credential for creating TokenReviews (none at ${token})`);
  return { url: s.api.replace(/\/+$/, ''), ...(caFile ? { caFile } : {}), tokenFile, audience };
}
