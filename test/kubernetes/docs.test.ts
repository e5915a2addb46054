/**
 * docs/kubernetes.md as written, against a real API server (test/helpers/kube-control-plane.ts):
 * its `<!-- test: kube -->` blocks (kubectl against the cluster) and its `<!-- test: run -->`
 * blocks (sg against the server), in document order, each in a fresh `bash -e` in one sandbox
 * with KUBECONFIG set, `sg` on PATH and a real `sg serve` whose data is ./data. The reader's own
 * files the page names are made first: server.crt/server.key and server-ca.crt. Then the
 * server's own service account, with the RBAC the page applied, reviews a pod's token: the
 * server is given a token of that account as its --k8s-token-file, as in-cluster it would be.
 * What needs a kubelet (rollout status, pods running) is marked skip in the page.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runner, type Runner } from '../cli/harness.js';
import { expectBlockRuns, extractBlocks, SHELL } from '../helpers/doc-blocks.js';
import { describeWithKube, findKube, makeServingCert, startControlPlane, type ControlPlane } from '../helpers/kube-control-plane.js';
import { ROOT, SG, startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const PAGE = 'docs/kubernetes.md';
const blocks = extractBlocks(readFileSync(join(ROOT, PAGE), 'utf8'), PAGE).filter((b) => SHELL.has(b.lang) && (b.marker?.run || (b.marker && 'kube' in b.marker)));

describeWithKube('docs/kubernetes.md against a real API server', () => {
  let kube: ControlPlane;
  let server: ServerProcess;
  let sandbox: string;
  let env: NodeJS.ProcessEnv;
  let sg: Runner;

  beforeAll(async () => {
    kube = await startControlPlane();
    sandbox = mkdtempSync(join(tmpdir(), 'sg-kube-docs-'));
    mkdirSync(join(sandbox, 'data'), { mode: 0o700 });
    mkdirSync(join(sandbox, 'bin'));
    writeFileSync(join(sandbox, 'bin', 'sg'), `#!/bin/sh\nexec "${process.execPath}" "${SG}" "$@"\n`);
    chmodSync(join(sandbox, 'bin', 'sg'), 0o755);
    // Paths the page gives relative to a checkout.
    symlinkSync(join(ROOT, 'deploy'), join(sandbox, 'deploy'));
    // The reader's own server certificate, and the CA that signed it.
    const cert = await makeServingCert(sandbox, 'server');
    expect(cert.ca).toBe(join(sandbox, 'server-ca.crt'));
    // The server reviews with whatever reviewer.token holds: written once the page has made the account.
    server = await startServerProcess({ dataDir: join(sandbox, 'data'), args: ['--k8s-api', kube.url, '--k8s-ca', kube.caFile, '--k8s-token-file', join(sandbox, 'reviewer.token')] });
    sg = runner(server);
    const found = findKube();
    const kubectlDir = 'reason' in found ? '' : dirname(found.kubectl);
    env = {
      PATH: `${join(sandbox, 'bin')}:${kubectlDir}:${process.env.PATH}`,
      HOME: sandbox,
      LANG: 'C.UTF-8',
      KUBECONFIG: kube.kubeconfig,
      SG_ADDR: server.addr,
      SG_LOG_LEVEL: 'warn',
    };
  }, 240_000);

  afterAll(async () => {
    await server?.cleanup();
    await kube?.stop();
    if (sandbox) rmSync(sandbox, { recursive: true, force: true });
  });

  it('has blocks for the cluster, from the namespaces to the injector', () => {
    const kubeBlocks = blocks.filter((b) => b.marker && 'kube' in b.marker).map((b) => b.text);
    expect(kubeBlocks.length).toBeGreaterThanOrEqual(6);
    for (const step of ['00-namespaces.yaml', '10-server.yaml', 'system:auth-delegator', 'create serviceaccount api', 'secret-groups-injector-tls', 'apply -f injector.yaml']) {
      expect(kubeBlocks.some((t) => t.includes(step)), step).toBe(true);
    }
  });

  it.each(blocks.map((b) => [`${b.file}:${b.line}`, b] as const))('%s runs as written', (_where, b) => {
    expectBlockRuns(b, sandbox, env);
  }, 90_000);

  it('left the cluster as the page says: the server without placeholder Secrets, the webhook registered fail-closed', async () => {
    const uri = JSON.parse(await kube.kubectl(['-n', 'secret-groups', 'get', 'secret', 'secret-groups-store', '-o', 'json'])) as { data: Record<string, string> };
    expect(Buffer.from(uri.data.uri!, 'base64').toString()).not.toMatch(/REPLACE-ME/);
    const deploy = JSON.parse(await kube.kubectl(['-n', 'secret-groups', 'get', 'deployment', 'secret-groups', '-o', 'json'])) as { spec: { template: { spec: { automountServiceAccountToken?: boolean } } } };
    expect(deploy.spec.template.spec.automountServiceAccountToken).toBe(true);
    const hook = JSON.parse(await kube.kubectl(['get', 'mutatingwebhookconfiguration', 'secret-groups-injector', '-o', 'json'])) as { webhooks: { failurePolicy: string; clientConfig: { caBundle?: string } }[] };
    expect(hook.webhooks[0]!.failurePolicy).toBe('Fail');
    expect(Buffer.from(hook.webhooks[0]!.clientConfig.caBundle!, 'base64').toString()).toBe(readFileSync(join(sandbox, 'injector-ca.crt'), 'utf8'));
  });

  it('the server, with its own service account\'s token and the RBAC above, reviews a pod\'s token', async () => {
    const pod = await kube.createToken('shop', 'api', 'secret-groups');
    // Without a credential that may create TokenReviews: UNAVAILABLE, with the RBAC hint.
    writeFileSync(join(sandbox, 'reviewer.token'), `${await kube.createToken('shop', 'api', 'https://kubernetes.default.svc.cluster.local')}\n`);
    expect(await sg.fails(['resolve', 'shop', 'api'], { env: { SG_TOKEN: pod } })).toMatch(/needs RBAC permission to create tokenreviews/);
    // The server's own account, bound to system:auth-delegator by the page: the review succeeds.
    writeFileSync(join(sandbox, 'reviewer.token'), `${await kube.createToken('secret-groups', 'secret-groups', 'https://kubernetes.default.svc.cluster.local')}\n`);
    await new Promise((r) => setTimeout(r, 1_100)); // the refusal above is remembered 1 s
    const resolved = await sg.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api'], { env: { SG_TOKEN: pod } });
    expect(resolved.variables).toEqual({ GREETING: 'hello' });
  });
});
