/**
 * The injection itself, on a copy of the pod: the agent container (first init container),
 * the projected service-account token, the shared in-memory volume, and the wrapped commands.
 * Pure: the same pod and settings always give the same result.
 */
import type { Container, Pod, Volume, VolumeMount } from 'kubernetes-types/core/v1.js';
import { ANN_MODE, type InjectConfig } from './annotations.js';
import { ENV_FILE, FILES_DIR, SHARED_DIR, wrapCommand } from './wrap.js';

/** The agent container's name; a pod that has it is already injected. */
export const AGENT_CONTAINER = 'secret-groups-agent';
export const SHARED_VOLUME = 'secret-groups';
export const TOKEN_VOLUME = 'secret-groups-token';
export const CA_VOLUME = 'secret-groups-ca';
/** The audience the server checks in TokenReview. */
export const TOKEN_AUDIENCE = 'secret-groups';
/** Lifetime asked for the projected token; the kubelet renews it at 80 % of that. */
export const TOKEN_EXPIRATION_SECONDS = 3600;
export const TOKEN_DIR = '/var/run/secrets/secret-groups';
export const TOKEN_FILE = `${TOKEN_DIR}/token`;
export const CA_DIR = '/etc/secret-groups/ca';

/** What every injection shares: from `sg k8s-injector serve`'s flags. */
export interface InjectorSettings {
  agentImage: string;
  /** host:port of the secret-groups server, as agents in the cluster reach it. */
  serverAddr: string;
  /** A ConfigMap (key ca.crt) in the pod's namespace with the CA of the server's certificate; unset: no TLS CA. */
  agentCaConfigMap?: string;
}

export type Injected = { ok: true; pod: Pod } | { ok: false; reason: string };

const names = (list: readonly { name: string }[] | undefined) => (list ?? []).map((x) => x.name);

/** The agent's command line: its `write` command, once or with --watch. */
export function agentArgs(sidecar: boolean): string[] {
  return ['--out', ENV_FILE, '--format', 'shell', '--files-root', FILES_DIR, ...(sidecar ? ['--watch'] : [])];
}

/**
 * The user id the wrapped containers run as, when the pod spec says: the agent must run as the
 * same user, since it writes the files 0600. Undefined when not set (the image's USER decides).
 */
function sharedUser(pod: Pod, targets: Container[]): { user?: number; group?: number } | { conflict: string } {
  const podCtx = pod.spec?.securityContext;
  const users = new Set(targets.map((c) => c.securityContext?.runAsUser ?? podCtx?.runAsUser));
  const groups = new Set(targets.map((c) => c.securityContext?.runAsGroup ?? podCtx?.runAsGroup));
  if (users.size > 1 || groups.size > 1) {
    return { conflict: `containers ${targets.map((c) => c.name).join(', ')} run as different users or groups, but the variables file is readable by one user only: give them one runAsUser/runAsGroup, or list one of them in secret-groups.io/containers` };
  }
  const [user] = users;
  const [group] = groups;
  return { ...(user !== undefined ? { user } : {}), ...(group !== undefined ? { group } : {}) };
}

function agentContainer(cfg: InjectConfig, s: InjectorSettings, user: { user?: number; group?: number }): Container {
  const env = [
    { name: 'SG_ADDR', value: s.serverAddr },
    { name: 'SG_PROJECT', value: cfg.project },
    { name: 'SG_WORKLOAD', value: cfg.workload },
    // The projected service-account token (audience secret-groups) is the agent's credential.
    { name: 'SG_K8S_TOKEN_FILE', value: TOKEN_FILE },
    ...(s.agentCaConfigMap ? [{ name: 'SG_CA', value: `${CA_DIR}/ca.crt` }] : []),
  ];
  const mounts: VolumeMount[] = [
    { name: SHARED_VOLUME, mountPath: SHARED_DIR },
    // The same volume's files/ directory again: the kubelet creates a subPath that does not
    // exist, and the agent needs its --files-root to exist before the first write.
    { name: SHARED_VOLUME, mountPath: FILES_DIR, subPath: 'files' },
    { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    ...(s.agentCaConfigMap ? [{ name: CA_VOLUME, mountPath: CA_DIR, readOnly: true }] : []),
  ];
  return {
    name: AGENT_CONTAINER,
    image: s.agentImage,
    imagePullPolicy: 'IfNotPresent',
    command: ['sg-agent', 'write'],
    args: agentArgs(cfg.sidecar),
    env,
    ...(cfg.sidecar
      ? {
          // A native sidecar: started before the app containers, stopped after them, and not
          // keeping a Job's pod alive. The next container starts once this probe passes: the
          // file is written (atomically) after the first resolution, so no app starts without it.
          restartPolicy: 'Always',
          startupProbe: { exec: { command: ['test', '-f', ENV_FILE] }, periodSeconds: 1, failureThreshold: 60 },
        }
      : {}),
    resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '128Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      ...(user.user !== undefined ? { runAsUser: user.user } : {}),
      ...(user.group !== undefined ? { runAsGroup: user.group } : {}),
    },
    volumeMounts: mounts,
  };
}

function volumes(s: InjectorSettings): Volume[] {
  return [
    { name: SHARED_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    {
      name: TOKEN_VOLUME,
      // No defaultMode: the kubelet makes the token readable by the containers' user only when
      // the pod says who that is, and 0644 otherwise (only the agent mounts it).
      projected: {
        sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: TOKEN_EXPIRATION_SECONDS, path: 'token' } }],
      },
    },
    ...(s.agentCaConfigMap ? [{ name: CA_VOLUME, configMap: { name: s.agentCaConfigMap, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] : []),
  ];
}

/**
 * The pod as it should be admitted, or the reason it cannot be. `pod` is not modified.
 * The agent goes first among the init containers so that every later init container may
 * already use the variables (when listed in secret-groups.io/containers).
 */
export function injectPod(pod: Pod, cfg: InjectConfig, s: InjectorSettings): Injected {
  const out = structuredClone(pod);
  const spec = out.spec;
  if (!spec) return { ok: false, reason: 'the pod has no spec' };
  const refuse = (reason: string): Injected => ({ ok: false, reason });

  const volumeNames = volumes(s).map((v) => v.name);
  const clash = names(spec.volumes).filter((n) => volumeNames.includes(n));
  if (clash.length) return refuse(`volume name ${clash.join(', ')} is reserved for the injected agent`);

  const all = [...(spec.initContainers ?? []), ...spec.containers];
  const targets = cfg.containers.map((n) => all.find((c) => c.name === n)!);
  for (const c of targets) {
    const busy = (c.volumeMounts ?? []).find((m) => m.mountPath === SHARED_DIR || m.mountPath.startsWith(`${SHARED_DIR}/`));
    if (busy) return refuse(`container ${c.name} already mounts ${busy.mountPath}, where the injector puts the variables`);
    if (cfg.mode !== 'files' && !c.command?.length) {
      return refuse(
        `container ${c.name} has no command: the webhook cannot see its image's ENTRYPOINT, so it cannot wrap it; ` +
          `set command (the image's entrypoint, with args) in the pod spec, or use ${ANN_MODE}: files`,
      );
    }
  }
  const user = sharedUser(pod, targets);
  if ('conflict' in user) return refuse(user.conflict);

  for (const c of targets) {
    if (cfg.mode !== 'files') wrapCommand(c, cfg.restart);
    c.volumeMounts = [...(c.volumeMounts ?? []), { name: SHARED_VOLUME, mountPath: SHARED_DIR, readOnly: true }];
  }
  spec.initContainers = [agentContainer(cfg, s, user), ...(spec.initContainers ?? [])];
  spec.volumes = [...(spec.volumes ?? []), ...volumes(s)];
  return { ok: true, pod: out };
}

/** True when the agent is already there (a re-admission, or reinvocation after another webhook). */
export function alreadyInjected(pod: Pod): boolean {
  return [...names(pod.spec?.initContainers), ...names(pod.spec?.containers)].includes(AGENT_CONTAINER);
}
