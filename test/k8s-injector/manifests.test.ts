/**
 * `sg k8s-injector manifests` and the CLI's checks, through the real CLI: the webhook's
 * settings, the cert-manager variant (which the test control plane cannot dry-run: it has no
 * cert-manager CRDs), and usage errors. test/kubernetes/injector.test.ts applies the output
 * with `kubectl apply --dry-run=server`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { makeServingCert } from '../helpers/kube-control-plane.js';
import { runNode, SG } from '../helpers/server-process.js';

type Obj = Record<string, any>;
const BASE = ['k8s-injector', 'manifests', '--namespace', 'sg-system', '--agent-image', 'registry.example/sg-agent:1', '--server-addr', 'secret-groups.secret-groups.svc:50051'];

async function manifests(extra: string[]): Promise<Obj[]> {
  const r = await runNode(SG, [...BASE, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
}

describe('sg k8s-injector manifests', () => {
  let dir: string;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-manifests-'));
    ca = (await makeServingCert(dir, 'injector')).ca;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the ServiceAccount, Deployment, Service and a fail-closed webhook for labelled pods', async () => {
    const docs = await manifests(['--ca-bundle', ca]);
    expect(docs.map((d) => d.kind)).toEqual(['ServiceAccount', 'Deployment', 'Service', 'MutatingWebhookConfiguration']);
    const hook = docs[3]!.webhooks[0];
    expect(hook).toMatchObject({
      name: 'inject.secret-groups.io',
      admissionReviewVersions: ['v1'],
      failurePolicy: 'Fail',
      sideEffects: 'None',
      timeoutSeconds: 5,
      reinvocationPolicy: 'IfNeeded',
      objectSelector: { matchLabels: { 'secret-groups.io/inject': 'true' } },
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['sg-system', 'kube-system'] }] },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
      clientConfig: { service: { namespace: 'sg-system', name: 'secret-groups-injector', path: '/mutate', port: 443 } },
    });
    expect(Buffer.from(hook.clientConfig.caBundle, 'base64').toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const container = docs[1]!.spec.template.spec.containers[0];
    expect(container.command).toEqual(['/usr/bin/tini', '--', 'sg', 'k8s-injector', 'serve']);
    const help = await runNode(SG, ['k8s-injector', 'serve', '--help']);
    for (const flag of container.args.map((a: string) => a.split('=')[0])) expect(help.stdout, flag).toContain(`${flag} `);
    expect(docs[1]!.spec.template.spec.volumes.map((v: Obj) => v.secret?.secretName)).toEqual(['secret-groups-injector-tls', 'secret-groups-injector-token']);
  });

  it('with --cert-manager: an Issuer and Certificate for the Service name, and the CA injected by cert-manager', async () => {
    const docs = await manifests(['--cert-manager']);
    expect(docs.map((d) => d.kind)).toEqual(['ServiceAccount', 'Issuer', 'Certificate', 'Deployment', 'Service', 'MutatingWebhookConfiguration']);
    expect(docs[2]!.spec).toMatchObject({ secretName: 'secret-groups-injector-tls', issuerRef: { kind: 'Issuer', name: 'secret-groups-injector-selfsigned' } });
    expect(docs[2]!.spec.dnsNames).toContain('secret-groups-injector.sg-system.svc');
    expect(docs[5]!.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'sg-system/secret-groups-injector' });
    expect(docs[5]!.webhooks[0].clientConfig.caBundle).toBeUndefined();
  });

  it('refuses what it cannot print correctly', async () => {
    const fails = async (args: string[], message: RegExp) => {
      const r = await runNode(SG, args);
      expect(r.code, r.stdout).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
    };
    await fails(BASE, /give --cert-manager, or --ca-bundle FILE/);
    await fails([...BASE, '--cert-manager', '--ca-bundle', ca], /exclude each other/);
    await fails([...BASE.slice(0, 2), '--namespace', 'Bad_NS', ...BASE.slice(4), '--cert-manager'], /--namespace must be a namespace name/);
    await fails([...BASE, '--cert-manager', '--agent-image', 'has space'], /--agent-image: "has space" is not an image reference/);
    await fails(['k8s-injector', 'serve', '--agent-image', 'x', '--server-addr', 'a:1'], /--tls-cert and --tls-key are required/);
    await fails(['k8s-injector', 'serve', '--tls-cert', ca, '--tls-key', ca, '--agent-image', 'x', '--server-addr', 'nope'], /--server-addr must be HOST:PORT/);
  });
});
