/**
 * The injector's decision, as a pure function of the AdmissionReview request: which pods are
 * left alone, which are refused and why, and what an admitted pod looks like once the JSON
 * Patch is applied (with fast-json-patch, as the API server applies it).
 */
import jsonpatch from 'fast-json-patch';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../../server/k8s-injector/admission.js';
import { decide } from '../../server/k8s-injector/decide.js';
import { AGENT_CONTAINER, TOKEN_FILE, type InjectorSettings } from '../../server/k8s-injector/inject.js';
import { ENV_FILE, ENV_WRAPPER, RESTART_WRAPPER } from '../../server/k8s-injector/wrap.js';

const settings: InjectorSettings = { agentImage: 'registry.example/sg-agent:1.0', serverAddr: 'secret-groups.sg.svc:50051' };

function pod(opts: { labels?: Record<string, string>; annotations?: Record<string, string>; containers?: Container[]; initContainers?: Container[]; job?: boolean; spec?: Partial<Pod['spec']> } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'api-',
      namespace: 'shop',
      labels: opts.labels ?? { app: 'api', 'secret-groups.io/inject': 'true' },
      annotations: opts.annotations ?? { 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api' },
      ...(opts.job ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'migrate', uid: 'u1', controller: true }] } : {}),
    },
    spec: {
      containers: opts.containers ?? [{ name: 'api', image: 'shop/api:1', command: ['node', 'server.js'], args: ['--port', '$(PORT)'] }],
      ...(opts.initContainers ? { initContainers: opts.initContainers } : {}),
      ...(opts.spec ?? {}),
    },
  };
}

function request(p: Pod, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return { uid: 'uid-1', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', operation: 'CREATE', object: p, ...extra };
}

/** Decides and applies the patch; fails the test unless the pod was admitted with a patch. */
function admitted(p: Pod): Pod {
  const d = decide(request(p), settings);
  if (!d.allowed || !d.patch) throw new Error(`expected a patch, got ${JSON.stringify(d)}`);
  return jsonpatch.applyPatch(structuredClone(p), d.patch, true, false).newDocument;
}

function refusal(p: Pod): string {
  const d = decide(request(p), settings);
  if (d.allowed) throw new Error(`expected a refusal, got ${JSON.stringify(d)}`);
  return d.reason;
}

const agentOf = (p: Pod) => p.spec!.initContainers!.find((c) => c.name === AGENT_CONTAINER)!;

describe('k8s injector decision', () => {
  it('leaves pods without the label, or with another value, and non-pod or non-create requests unchanged', () => {
    for (const labels of [{}, { 'secret-groups.io/inject': 'false' }, { 'secret-groups.io/inject': 'yes' }] as Record<string, string>[]) {
      const d = decide(request(pod({ labels })), settings);
      expect(d).toMatchObject({ allowed: true });
      expect(d.allowed && d.patch).toBeFalsy();
    }
    expect(decide(request(pod(), { operation: 'UPDATE' }), settings)).toEqual({ allowed: true, why: 'not a pod creation' });
    expect(decide(request(pod(), { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }), settings)).toEqual({ allowed: true, why: 'not a pod creation' });
    expect(decide(request(pod(), { subResource: 'ephemeralcontainers' }), settings)).toEqual({ allowed: true, why: 'not a pod creation' });
  });

  it('injects a native sidecar, the projected token, the in-memory volume, and wraps the command', () => {
    const p = admitted(pod());
    const spec = p.spec!;
    expect(spec.initContainers!.map((c) => c.name)).toEqual([AGENT_CONTAINER]);
    const agent = agentOf(p);
    expect(agent.image).toBe(settings.agentImage);
    expect(agent.restartPolicy).toBe('Always');
    expect(agent.startupProbe?.exec?.command).toEqual(['test', '-f', ENV_FILE]);
    expect(agent.command).toEqual(['sg-agent', 'write']);
    expect(agent.args).toEqual(['--out', ENV_FILE, '--format', 'shell', '--files-root', '/run/secret-groups/files', '--watch']);
    expect(Object.fromEntries(agent.env!.map((e) => [e.name, e.value]))).toEqual({
      SG_ADDR: settings.serverAddr,
      SG_PROJECT: 'shop',
      SG_WORKLOAD: 'api',
      SG_K8S_TOKEN_FILE: TOKEN_FILE,
    });
    expect(agent.volumeMounts).toEqual([
      { name: 'secret-groups', mountPath: '/run/secret-groups' },
      { name: 'secret-groups', mountPath: '/run/secret-groups/files', subPath: 'files' },
      { name: 'secret-groups-token', mountPath: '/var/run/secrets/secret-groups', readOnly: true },
    ]);
    expect(agent.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });

    const token = spec.volumes!.find((v) => v.name === 'secret-groups-token')!;
    expect(token.projected!.sources).toEqual([{ serviceAccountToken: { audience: 'secret-groups', expirationSeconds: 3600, path: 'token' } }]);
    expect(spec.volumes!.find((v) => v.name === 'secret-groups')!.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '16Mi' });

    const app = spec.containers[0]!;
    expect(app.command).toEqual(['/bin/sh', '-c', ENV_WRAPPER]);
    // The original command and args, unchanged (the kubelet still expands $(PORT)).
    expect(app.args).toEqual(['node', 'server.js', '--port', '$(PORT)']);
    expect(app.volumeMounts).toEqual([{ name: 'secret-groups', mountPath: '/run/secret-groups', readOnly: true }]);
  });

  it('mounts the server CA from a ConfigMap when the injector is given one', () => {
    const d = decide(request(pod()), { ...settings, agentCaConfigMap: 'secret-groups-ca' });
    if (!d.allowed || !d.patch) throw new Error('no patch');
    const p = jsonpatch.applyPatch(pod(), d.patch, true, false).newDocument;
    expect(agentOf(p).env).toContainEqual({ name: 'SG_CA', value: '/etc/secret-groups/ca/ca.crt' });
    expect(p.spec!.volumes).toContainEqual({ name: 'secret-groups-ca', configMap: { name: 'secret-groups-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
  });

  it('gives pods of a Job, and mode init, a plain init container that writes once and exits', () => {
    for (const p of [admitted(pod({ job: true })), admitted(pod({ annotations: { 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api', 'secret-groups.io/mode': 'init' } }))]) {
      const agent = agentOf(p);
      expect(agent.restartPolicy).toBeUndefined();
      expect(agent.startupProbe).toBeUndefined();
      expect(agent.args).not.toContain('--watch');
      expect(p.spec!.containers[0]!.command).toEqual(['/bin/sh', '-c', ENV_WRAPPER]);
    }
    // A Job may still ask for the sidecar explicitly: a native sidecar ends with the Job.
    const explicit = admitted(pod({ job: true, annotations: { 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api', 'secret-groups.io/mode': 'sidecar' } }));
    expect(agentOf(explicit).restartPolicy).toBe('Always');
  });

  it('files mode leaves commands alone (images without a shell) and mounts the volume', () => {
    const containers = [{ name: 'proxy', image: 'distroless/proxy' }];
    const ann = { 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api', 'secret-groups.io/mode': 'files' };
    const p = admitted(pod({ annotations: ann, containers }));
    expect(p.spec!.containers[0]!.command).toBeUndefined();
    expect(p.spec!.containers[0]!.args).toBeUndefined();
    expect(p.spec!.containers[0]!.volumeMounts).toEqual([{ name: 'secret-groups', mountPath: '/run/secret-groups', readOnly: true }]);
    expect(agentOf(p).restartPolicy).toBe('Always');
    expect(agentOf(admitted(pod({ annotations: ann, containers, job: true }))).restartPolicy).toBeUndefined();
  });

  it('refuses a container without command in env modes, saying how to fix it', () => {
    const reason = refusal(pod({ containers: [{ name: 'api', image: 'shop/api:1', args: ['serve'] }] }));
    expect(reason).toMatch(/container api has no command/);
    expect(reason).toMatch(/ENTRYPOINT/);
    expect(reason).toMatch(/secret-groups\.io\/mode: files/);
  });

  it('refuses missing, malformed and unknown annotations with the reason', () => {
    expect(refusal(pod({ annotations: {} }))).toMatch(/needs the annotations secret-groups\.io\/project and secret-groups\.io\/workload/);
    expect(refusal(pod({ annotations: { 'secret-groups.io/project': 'shop' } }))).toMatch(/needs the annotation secret-groups\.io\/workload$/);
    expect(refusal(pod({ annotations: { 'secret-groups.io/project': 'Shop!', 'secret-groups.io/workload': 'api' } }))).toMatch(/secret-groups\.io\/project: "Shop!" is not a valid name/);
    expect(refusal(pod({ annotations: { 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api', 'secret-groups.io/worklaod': 'x' } }))).toMatch(/unknown annotation "secret-groups\.io\/worklaod"/);
    expect(refusal(pod({ annotations: { 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api', 'secret-groups.io/mode': 'env' } }))).toMatch(/mode: "env" is not one of sidecar, init, files/);
    expect(refusal(pod({ annotations: { 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api', 'secret-groups.io/containers': 'nope' } }))).toMatch(/has no container "nope"/);
  });

  it('re-admission of an injected pod changes nothing', () => {
    const once = admitted(pod({ initContainers: [{ name: 'migrate', image: 'shop/migrate', command: ['migrate'] }] }));
    const again = decide(request(once), settings);
    expect(again).toEqual({ allowed: true, why: 'already injected' });
  });

  it('puts the agent first and keeps other init containers in their order, untouched unless listed', () => {
    const initContainers = [
      { name: 'a', image: 'x', command: ['a'] },
      { name: 'b', image: 'x', command: ['b'] },
    ];
    const p = admitted(pod({ initContainers }));
    expect(p.spec!.initContainers!.map((c) => c.name)).toEqual([AGENT_CONTAINER, 'a', 'b']);
    expect(p.spec!.initContainers!.slice(1)).toEqual(initContainers);

    const listed = admitted(
      pod({ initContainers, annotations: { 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api', 'secret-groups.io/containers': 'b' } }),
    );
    expect(listed.spec!.initContainers![2]!.command).toEqual(['/bin/sh', '-c', ENV_WRAPPER]);
    expect(listed.spec!.initContainers![1]).toEqual(initContainers[0]);
    // Not listed: the app container keeps its command and gets no mount.
    expect(listed.spec!.containers[0]!.command).toEqual(['node', 'server.js']);
    expect(listed.spec!.containers[0]!.volumeMounts).toBeUndefined();
  });

  it('runs the agent as the wrapped containers\' user (the files are 0600), and refuses when they differ', () => {
    const same = admitted(pod({ containers: [{ name: 'api', image: 'x', command: ['x'], securityContext: { runAsUser: 1000, runAsGroup: 2000 } }] }));
    expect(agentOf(same).securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 2000 });
    const podLevel = admitted(pod({ spec: { securityContext: { runAsUser: 1234 } } }));
    expect(agentOf(podLevel).securityContext?.runAsUser).toBe(1234);
    const unknown = admitted(pod());
    expect(agentOf(unknown).securityContext?.runAsUser).toBeUndefined();
    expect(
      refusal(
        pod({
          containers: [
            { name: 'a', image: 'x', command: ['a'], securityContext: { runAsUser: 1 } },
            { name: 'b', image: 'x', command: ['b'], securityContext: { runAsUser: 2 } },
          ],
        }),
      ),
    ).toMatch(/run as different users/);
  });

  it('restart: "true" wraps with the restarting script, and only where a restart can happen', () => {
    const ann = { 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api', 'secret-groups.io/restart': 'true' };
    expect(admitted(pod({ annotations: ann })).spec!.containers[0]!.command).toEqual(['/bin/sh', '-c', RESTART_WRAPPER]);
    expect(refusal(pod({ annotations: ann, job: true }))).toMatch(/needs secret-groups\.io\/mode: sidecar/);
    expect(refusal(pod({ annotations: { ...ann, 'secret-groups.io/mode': 'files' } }))).toMatch(/needs secret-groups\.io\/mode: sidecar/);
    expect(refusal(pod({ annotations: ann, spec: { restartPolicy: 'OnFailure' } }))).toMatch(/restartPolicy Always/);
  });

  it('refuses pods that already use the injector\'s volume names or mount path', () => {
    expect(refusal(pod({ spec: { volumes: [{ name: 'secret-groups', emptyDir: {} }] } }))).toMatch(/volume name secret-groups is reserved/);
    expect(refusal(pod({ containers: [{ name: 'api', image: 'x', command: ['x'], volumeMounts: [{ name: 'v', mountPath: '/run/secret-groups' }] }] }))).toMatch(/already mounts \/run\/secret-groups/);
  });

  it('the wrappers never contain $( which the kubelet would expand', () => {
    expect(ENV_WRAPPER).not.toContain('$(');
    expect(RESTART_WRAPPER).not.toContain('$(');
  });
});
