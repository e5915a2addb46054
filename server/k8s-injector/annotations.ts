/**
 * The injector's pod-facing contract: the label that opts a pod in and the annotations that
 * configure it, parsed in one place into one `InjectConfig` (like vault-k8s' `agent-inject`).
 * Every `secret-groups.io/` annotation must be known, so a typo is refused, never ignored.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';

export const PREFIX = 'secret-groups.io/';
/** The label (also the webhook's objectSelector) that opts a pod in: value "true". */
export const LABEL_INJECT = `${PREFIX}inject`;
export const ANN_PROJECT = `${PREFIX}project`;
export const ANN_WORKLOAD = `${PREFIX}workload`;
export const ANN_MODE = `${PREFIX}mode`;
export const ANN_CONTAINERS = `${PREFIX}containers`;
export const ANN_RESTART = `${PREFIX}restart`;

/** Every annotation the injector reads, with what it does (for docs and error messages). */
export const ANNOTATIONS: Readonly<Record<string, string>> = {
  [ANN_PROJECT]: 'project of the workload (required)',
  [ANN_WORKLOAD]: 'workload to resolve (required)',
  [ANN_MODE]: 'sidecar | init | files (default: init for pods of a Job, else sidecar)',
  [ANN_CONTAINERS]: 'comma-separated containers to wrap or mount into (default: every app container)',
  [ANN_RESTART]: '"true": restart the wrapped containers when the variables change (sidecar mode)',
};

/**
 * - sidecar: the agent as a native sidecar (`write --watch`), app commands wrapped.
 * - init: the agent as a plain init container (`write` once, then exits), app commands wrapped.
 * - files: the variables file and secret files only; commands untouched (images without a shell).
 */
export type Mode = 'sidecar' | 'init' | 'files';
export const MODES: readonly Mode[] = ['sidecar', 'init', 'files'];

export interface InjectConfig {
  project: string;
  workload: string;
  mode: Mode;
  /** The agent keeps running (`write --watch`) beside the app; false: it writes once and exits. */
  sidecar: boolean;
  /** Names of the containers to wrap (env modes) or to mount the volume into (files mode). */
  containers: string[];
  restart: boolean;
  /** The pod belongs to a Job (an ownerReference of kind Job). */
  job: boolean;
}

export type Parsed = { inject: false } | { inject: true; config: InjectConfig } | { inject: true; error: string };

/** Project and workload names: DNS labels, as the server validates them. */
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const shown = (v: string) => JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);

/** True when the pod is owned by a Job (batch/v1), directly or as the Job controller made it. */
export function ownedByJob(pod: Pod): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((o) => o.kind === 'Job' && o.apiVersion.startsWith('batch/'));
}

/**
 * Reads the label and annotations of a pod. Not labelled `secret-groups.io/inject: "true"`:
 * not ours (`inject: false`). Labelled: a config, or the first problem found, as a sentence.
 */
export function parseInjectConfig(pod: Pod): Parsed {
  if (pod.metadata?.labels?.[LABEL_INJECT] !== 'true') return { inject: false };
  const ann = pod.metadata.annotations ?? {};
  const error = (e: string): Parsed => ({ inject: true, error: e });

  const unknown = Object.keys(ann).filter((k) => k.startsWith(PREFIX) && !(k in ANNOTATIONS));
  if (unknown.length) return error(`unknown annotation ${unknown.map(shown).join(', ')} (known: ${Object.keys(ANNOTATIONS).join(', ')})`);

  const missing = [ANN_PROJECT, ANN_WORKLOAD].filter((k) => !ann[k]);
  if (missing.length) return error(`a pod labelled ${LABEL_INJECT}=true needs the annotation${missing.length > 1 ? 's' : ''} ${missing.join(' and ')}`);
  const project = ann[ANN_PROJECT]!;
  const workload = ann[ANN_WORKLOAD]!;
  for (const [key, value] of [[ANN_PROJECT, project], [ANN_WORKLOAD, workload]] as const) {
    if (!NAME_RE.test(value)) return error(`annotation ${key}: ${shown(value)} is not a valid name (1-63 lower-case letters, digits and '-')`);
  }

  const job = ownedByJob(pod);
  const modeText = ann[ANN_MODE];
  if (modeText !== undefined && !(MODES as readonly string[]).includes(modeText)) {
    return error(`annotation ${ANN_MODE}: ${shown(modeText)} is not one of ${MODES.join(', ')}`);
  }
  const mode: Mode = (modeText as Mode | undefined) ?? (job ? 'init' : 'sidecar');
  // Files mode follows the pod's life: a Job's pod must be able to finish, so the agent writes once.
  const sidecar = mode === 'sidecar' || (mode === 'files' && !job);

  const restartText = ann[ANN_RESTART];
  if (restartText !== undefined && restartText !== 'true' && restartText !== 'false') {
    return error(`annotation ${ANN_RESTART}: ${shown(restartText)} must be "true" or "false"`);
  }
  const restart = restartText === 'true';
  if (restart && mode !== 'sidecar') return error(`annotation ${ANN_RESTART}: "true" needs ${ANN_MODE}: sidecar (only a running agent sees changes, and only a wrapped command can be restarted)`);
  if (restart && (pod.spec?.restartPolicy ?? 'Always') !== 'Always') {
    return error(`annotation ${ANN_RESTART}: "true" needs the pod's restartPolicy Always (a restarted container must be started again)`);
  }

  const appNames = (pod.spec?.containers ?? []).map((c) => c.name);
  const initNames = (pod.spec?.initContainers ?? []).map((c) => c.name);
  let containers = appNames;
  const listText = ann[ANN_CONTAINERS];
  if (listText !== undefined) {
    containers = [...new Set(listText.split(',').map((s) => s.trim()).filter(Boolean))];
    if (!containers.length) return error(`annotation ${ANN_CONTAINERS} names no container`);
    const absent = containers.filter((n) => !appNames.includes(n) && !initNames.includes(n));
    if (absent.length) return error(`annotation ${ANN_CONTAINERS}: the pod has no container ${absent.map(shown).join(', ')}`);
  }
  return { inject: true, config: { project, workload, mode, sidecar, containers, restart, job } };
}
