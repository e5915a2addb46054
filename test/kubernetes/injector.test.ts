/**
 * The injector through a REAL API server (test/helpers/kube-control-plane.ts): the webhook is
 * registered with the MutatingWebhookConfiguration that `sg k8s-injector manifests` prints
 * (pointed at the local injector by URL), pods are created with kubectl, and what the API
 * server stored, or its refusal, is checked. There is no kubelet, so the admitted pod's agent
 * and wrapped app commands are then run here, as the kubelet would run them (paths moved
 * under a temporary directory), against a real secret-groups server.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container, EnvVar, Pod } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { describeWithKube, startControlPlane, type ControlPlane } from '../helpers/kube-control-plane.js';
import { runNode, sg, SG, SG_AGENT, type RunResult } from '../helpers/server-process.js';
import { AGENT_IMAGE, startBackend, startInjector, type Backend, type InjectorProcess } from '../k8s-injector/fixture.js';

const INJECT = { 'secret-groups.io/inject': 'true' };
const APP = { project: 'secret-groups.io/project', workload: 'secret-groups.io/workload' };
/** The app prints what it sees: the variables, a value from its own spec, and its secret file. */
const PRINT_ENV = `console.log(JSON.stringify({ greeting: process.env.GREETING, quoted: process.env.QUOTED, own: process.env.OWN }))`;

function podYaml(name: string, labels: Record<string, string>, annotations: Record<string, string>, extra: Partial<Pod['spec']> = {}, meta: Record<string, unknown> = {}): string {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', labels, annotations, ...meta },
    spec: {
      containers: [{ name: 'app', image: 'registry.example/shop/api:1', command: ['node', '-e', PRINT_ENV], env: [{ name: 'OWN', value: 'from the pod spec' }] }],
      ...extra,
    },
  };
  return JSON.stringify(pod);
}

describeWithKube('the injector through a real API server', () => {
  let kube: ControlPlane;
  let backend: Backend;
  let injector: InjectorProcess;

  const get = async (name: string): Promise<Pod> => JSON.parse(await kube.kubectl(['-n', 'shop', 'get', 'pod', name, '-o', 'json'])) as Pod;
  const create = (yaml: string) => kube.kubectl(['create', '-f', '-'], yaml);

  beforeAll(async () => {
    kube = await startControlPlane();
    // The agent logs in with the pod's service account (shop/default), reviewed by the API server.
    backend = await startBackend(['--k8s-api', kube.url, '--k8s-ca', kube.caFile, '--k8s-token-file', kube.adminTokenFile, '--k8s-audience', 'secret-groups']);
    injector = await startInjector(backend);
    await kube.createNamespace('shop');
    const bound = await sg(backend.server, ['workload', 'bind', 'shop', 'api', '--k8s-service-account', 'shop/default']);
    expect(bound.code, bound.stderr).toBe(0);
    await kube.createNamespace('sg-system');

    // The webhook configuration exactly as `manifests` prints it, but called by URL.
    const out = await runNode(SG, ['k8s-injector', 'manifests', '--namespace', 'sg-system', '--agent-image', AGENT_IMAGE, '--server-addr', backend.server.addr, '--ca-bundle', injector.caFile]);
    expect(out.code, out.stderr).toBe(0);
    const hook = parseAllDocuments(out.stdout)
      .map((d) => d.toJS() as { kind: string; webhooks?: { clientConfig: Record<string, unknown> }[] })
      .find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    hook.webhooks![0]!.clientConfig = { url: `${injector.url}/mutate`, caBundle: Buffer.from(readFileSync(injector.caFile)).toString('base64') };
    await kube.kubectl(['apply', '-f', '-'], JSON.stringify(hook));
  }, 240_000);

  afterAll(async () => {
    await injector?.stop();
    await backend?.cleanup();
    await kube?.stop();
  });

  it('injects the agent into a labelled pod on kubectl create', async () => {
    await create(podYaml('api-1', INJECT, { [APP.project]: 'shop', [APP.workload]: 'api' }));
    const pod = await get('api-1');
    const [agent, ...rest] = pod.spec!.initContainers!;
    expect(rest).toEqual([]);
    expect(agent!.name).toBe('secret-groups-agent');
    expect(agent!.image).toBe(AGENT_IMAGE);
    expect(agent!.restartPolicy).toBe('Always');
    expect(agent!.startupProbe!.exec!.command).toEqual(['test', '-f', '/run/secret-groups/env']);
    expect(pod.spec!.volumes!.find((v) => v.name === 'secret-groups-token')!.projected!.sources![0]!.serviceAccountToken).toEqual({
      audience: 'secret-groups',
      expirationSeconds: 3600,
      path: 'token',
    });
    expect(pod.spec!.volumes!.find((v) => v.name === 'secret-groups')!.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '16Mi' });
    const app = pod.spec!.containers[0]!;
    expect(app.command!.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(app.args).toEqual(['node', '-e', PRINT_ENV]);
  });

  it('admits an injected pod again unchanged (a re-admission adds nothing)', async () => {
    const first = await get('api-1');
    const again: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-1-again', namespace: 'shop', labels: first.metadata!.labels, annotations: first.metadata!.annotations }, spec: first.spec };
    await create(JSON.stringify(again));
    const second = await get('api-1-again');
    expect(second.spec).toEqual(first.spec);
    expect(second.spec!.initContainers!.filter((c) => c.name === 'secret-groups-agent')).toHaveLength(1);
  });

  it('leaves an unlabelled pod as it was', async () => {
    await create(podYaml('plain', { app: 'plain' }, { [APP.project]: 'shop', [APP.workload]: 'api' }));
    const pod = await get('plain');
    expect(pod.spec!.initContainers).toBeUndefined();
    expect(pod.spec!.containers[0]!.command).toEqual(['node', '-e', PRINT_ENV]);
    expect(pod.spec!.volumes?.some((v) => v.name.startsWith('secret-groups'))).toBeFalsy();
  });

  it('refuses wrongly annotated pods and unknown workloads, with the reason, and stores nothing', async () => {
    const missing = await create(podYaml('bad-1', INJECT, { [APP.project]: 'shop' })).catch((e: Error) => e.message);
    expect(missing).toMatch(/admission webhook "inject\.secret-groups\.io" denied the request: secret-groups injector: .*needs the annotation secret-groups\.io\/workload/);
    const unknown = await create(podYaml('bad-2', INJECT, { [APP.project]: 'shop', [APP.workload]: 'nope' })).catch((e: Error) => e.message);
    expect(unknown).toMatch(/denied the request: .*secret-groups has no workload shop\/nope/);
    const noCommand = await create(
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad-3', namespace: 'shop', labels: INJECT, annotations: { [APP.project]: 'shop', [APP.workload]: 'api' } }, spec: { containers: [{ name: 'app', image: 'x' }] } }),
    ).catch((e: Error) => e.message);
    expect(noCommand).toMatch(/container app has no command/);
    const list = JSON.parse(await kube.kubectl(['-n', 'shop', 'get', 'pods', '-o', 'json'])) as { items: Pod[] };
    expect(list.items.map((p) => p.metadata!.name).filter((n) => n!.startsWith('bad-'))).toEqual([]);
  });

  it('gives a Job\'s pod a plain init container, and keeps the pod\'s own init containers after it', async () => {
    const own: Container = { name: 'migrate', image: 'registry.example/shop/migrate:1', command: ['migrate', 'up'] };
    await create(
      podYaml('job-1', INJECT, { [APP.project]: 'shop', [APP.workload]: 'api' }, { restartPolicy: 'Never', initContainers: [own] }, {
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'migrate', uid: '6a7f5c1e-1111-4222-8333-944455556666', controller: true }],
      }),
    );
    const pod = await get('job-1');
    expect(pod.spec!.initContainers!.map((c) => c.name)).toEqual(['secret-groups-agent', 'migrate']);
    expect(pod.spec!.initContainers![0]!.restartPolicy).toBeUndefined();
    expect(pod.spec!.initContainers![0]!.args).not.toContain('--watch');
    expect(pod.spec!.initContainers![1]!.command).toEqual(['migrate', 'up']);
  });

  it('accepts the manifests with kubectl apply --dry-run=server', async () => {
    const out = await runNode(SG, ['k8s-injector', 'manifests', '--namespace', 'sg-system', '--agent-image', AGENT_IMAGE, '--server-addr', 'secret-groups.secret-groups.svc:50051', '--ca-bundle', injector.caFile, '--agent-ca-configmap', 'secret-groups-ca']);
    expect(out.code, out.stderr).toBe(0);
    const applied = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], out.stdout);
    for (const what of ['serviceaccount/secret-groups-injector', 'deployment.apps/secret-groups-injector', 'service/secret-groups-injector', 'mutatingwebhookconfiguration.admissionregistration.k8s.io/secret-groups-injector']) {
      // The webhook configuration exists already (registered above): configured, not created.
      expect(applied).toMatch(new RegExp(`^${what.replaceAll('.', '\\.')} (created|configured) \\(server dry run\\)$`, 'm'));
    }
  });

  /**
   * Runs a container's command and args as the kubelet would, here: the injected paths moved
   * under `root`, `sg-agent` being this checkout's agent, and the container's env.
   */
  function runContainer(c: Container, root: string, env: NodeJS.ProcessEnv, opts: { timeoutMs?: number } = {}): { done: Promise<RunResult>; kill(): void } {
    const move = (s: string) => s.replaceAll('/run/secret-groups', join(root, 'run/secret-groups')).replaceAll('/var/run/secrets/secret-groups', join(root, 'token'));
    let argv = [...(c.command ?? []), ...(c.args ?? [])].map(move);
    if (argv[0] === 'sg-agent') argv = [process.execPath, SG_AGENT, ...argv.slice(1)];
    const own = Object.fromEntries((c.env ?? []).map((e: EnvVar) => [e.name, move(e.value ?? '')]));
    const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH, ...own, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<RunResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${argv.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, opts.timeoutMs ?? 30_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
    return { done, kill: () => child.kill('SIGTERM') };
  }

  /** The volumes as the kubelet would prepare them: the emptyDir with its files/ subPath, the token. */
  async function volumes(root: string): Promise<NodeJS.ProcessEnv> {
    mkdirSync(join(root, 'run/secret-groups/files'), { recursive: true });
    mkdirSync(join(root, 'token'), { recursive: true });
    // The projected token the kubelet would write: minted by the API server for the audience.
    writeFileSync(join(root, 'token/token'), await kube.createToken('shop', 'default', 'secret-groups', 3600));
    return {};
  }

  it('runs the admitted pod: the agent writes the variables and files, the wrapped app sees them', async () => {
    const pod = await get('job-1');
    const root = join(kube.dir, 'job-1');
    const auth = await volumes(root);
    const agent = await runContainer(pod.spec!.initContainers![0]!, root, auth).done;
    expect(agent.code, agent.stderr).toBe(0);
    const envFile = join(root, 'run/secret-groups/env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, 'run/secret-groups/files/etc/app/key.pem'), 'utf8')).toBe('not really a key\n');

    const app = await runContainer(pod.spec!.containers[0]!, root, {}).done;
    expect(app.code, app.stderr).toBe(0);
    expect(JSON.parse(app.stdout)).toEqual({ greeting: 'hello from secret-groups', quoted: "it's $HOME `x`", own: 'from the pod spec' });
  });

  it('restarts the app when a variable changes (secret-groups.io/restart: "true", sidecar)', async () => {
    const waitingApp = `${PRINT_ENV}; setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0))`;
    await create(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'api-restart', namespace: 'shop', labels: INJECT, annotations: { [APP.project]: 'shop', [APP.workload]: 'api', 'secret-groups.io/restart': 'true' } },
        spec: { containers: [{ name: 'app', image: 'registry.example/shop/api:1', command: ['node', '-e', waitingApp] }] },
      }),
    );
    const pod = await get('api-restart');
    const root = join(kube.dir, 'api-restart');
    const auth = await volumes(root);
    const sidecar = runContainer(pod.spec!.initContainers![0]!, root, auth, { timeoutMs: 60_000 });
    try {
      const envFile = join(root, 'run/secret-groups/env');
      for (let i = 0; i < 100 && !existsSync(envFile); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(envFile), 'the startup probe would pass').toBe(true);
      const app = runContainer(pod.spec!.containers[0]!, root, {});
      await new Promise((r) => setTimeout(r, 1000));
      const set = await sg(backend.server, ['group', 'set', 'shop', 'common', 'GREETING=changed']);
      expect(set.code, set.stderr).toBe(0);
      const first = await app.done;
      expect(first.stderr).toMatch(/the variables changed; stopping the program so that the container restarts/);
      expect(JSON.parse(first.stdout.trim().split('\n')[0]!).greeting).toBe('hello from secret-groups');
      // The kubelet starts the container again: now with the new value.
      const again = runContainer(pod.spec!.containers[0]!, root, {});
      await new Promise((r) => setTimeout(r, 1000));
      again.kill();
      const second = await again.done;
      expect(JSON.parse(second.stdout.trim().split('\n')[0]!).greeting).toBe('changed');
      expect(second.code).toBe(0);
    } finally {
      sidecar.kill();
      await sidecar.done;
      await sg(backend.server, ['group', 'set', 'shop', 'common', 'GREETING=hello from secret-groups']);
    }
  }, 60_000);
});
