/**
 * The webhook over HTTPS, as the API server calls it: the real `sg k8s-injector serve` with a
 * certificate made by openssl, against a real secret-groups server. AdmissionReview in and
 * out (uid echoed, base64 JSON Patch), refusals with their reason, bounded bodies, and a
 * certificate rotated on disk served without a restart.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeServingCert } from '../helpers/kube-control-plane.js';
import { AGENT_IMAGE, https, startBackend, startInjector, type Backend, type InjectorProcess } from './fixture.js';

const labelled = (annotations: Record<string, string>, labels: Record<string, string> = { 'secret-groups.io/inject': 'true' }) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'api-1', namespace: 'shop', labels, annotations },
  spec: { containers: [{ name: 'api', image: 'shop/api', command: ['node', 'server.js'] }] },
});

const review = (uid: string, object: unknown) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'shop', operation: 'CREATE', object },
  });

interface Response {
  uid: string;
  allowed: boolean;
  patchType?: string;
  patch?: string;
  status?: { code: number; message: string };
}

describe('k8s injector over HTTPS', () => {
  let backend: Backend;
  let injector: InjectorProcess;
  let ca: string;
  const mutate = async (body: string) => {
    const r = await https(`${injector.url}/mutate`, ca, 'POST', body);
    expect(r.status, r.body).toBe(200);
    const parsed = JSON.parse(r.body) as { apiVersion: string; kind: string; response: Response };
    expect(parsed.apiVersion).toBe('admission.k8s.io/v1');
    expect(parsed.kind).toBe('AdmissionReview');
    return parsed.response;
  };

  beforeAll(async () => {
    backend = await startBackend();
    injector = await startInjector(backend);
    ca = readFileSync(injector.caFile, 'utf8');
  }, 60_000);
  afterAll(async () => {
    await injector?.stop();
    await backend?.cleanup();
  });

  it('answers GET /healthz, and nothing else but POST /mutate', async () => {
    expect(await https(`${injector.url}/healthz`, ca, 'GET')).toEqual({ status: 200, body: 'ok\n' });
    expect((await https(`${injector.url}/mutate`, ca, 'GET')).status).toBe(405);
    expect((await https(`${injector.url}/other`, ca, 'POST', '{}')).status).toBe(404);
  });

  it('admits a labelled pod of a known workload with a JSON Patch, echoing the uid', async () => {
    const pod = labelled({ 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api' });
    const res = await mutate(review('uid-42', pod));
    expect(res).toMatchObject({ uid: 'uid-42', allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(res.patch!, 'base64').toString('utf8')) as Operation[];
    const admitted = jsonpatch.applyPatch(structuredClone(pod), patch, true, false).newDocument as ReturnType<typeof labelled> & {
      spec: { initContainers: { name: string; image: string }[]; containers: { command: string[]; args: string[] }[] };
    };
    expect(admitted.spec.initContainers.map((c) => [c.name, c.image])).toEqual([['secret-groups-agent', AGENT_IMAGE]]);
    expect(admitted.spec.containers[0]!.command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(admitted.spec.containers[0]!.args).toEqual(['node', 'server.js']);
  });

  it('refuses an unknown workload or project with the server\'s reason', async () => {
    const res = await mutate(review('uid-7', labelled({ 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'nope' })));
    expect(res.uid).toBe('uid-7');
    expect(res.allowed).toBe(false);
    expect(res.status?.code).toBe(403);
    expect(res.status?.message).toMatch(/secret-groups has no workload shop\/nope/);
    const project = await mutate(review('uid-8', labelled({ 'secret-groups.io/project': 'nowhere', 'secret-groups.io/workload': 'api' })));
    expect(project.status?.message).toMatch(/no workload nowhere\/api/);
  });

  it('admits unlabelled pods unchanged and refuses wrong annotations without asking the server', async () => {
    const plain = await mutate(review('uid-1', labelled({}, { app: 'x' })));
    expect(plain).toEqual({ uid: 'uid-1', allowed: true });
    const wrong = await mutate(review('uid-2', labelled({ 'secret-groups.io/project': 'shop' })));
    expect(wrong).toMatchObject({ uid: 'uid-2', allowed: false });
    expect(wrong.status!.message).toMatch(/needs the annotation secret-groups\.io\/workload/);
  });

  it('answers 400 to what is not an AdmissionReview v1, and 413 to an oversized body', async () => {
    expect((await https(`${injector.url}/mutate`, ca, 'POST', 'not json')).status).toBe(400);
    const v1beta1 = await https(`${injector.url}/mutate`, ca, 'POST', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }));
    expect(v1beta1.status).toBe(400);
    expect(v1beta1.body).toMatch(/admissionReviewVersions: \[v1\]/);
    const big = await https(`${injector.url}/mutate`, ca, 'POST', Buffer.alloc(4 * 1024 * 1024, 0x20)).catch((e: NodeJS.ErrnoException) => ({ status: e.code, body: '' }));
    // Either the 413 arrives, or the connection is closed while the body is still being sent.
    expect([413, 'ECONNRESET', 'EPIPE']).toContain(big.status);
  });

  it('refuses labelled pods while the server is unreachable (consistent with failurePolicy Fail)', async () => {
    const offline = await startInjector(backend, [], '127.0.0.1:1');
    try {
      const r = await https(`${offline.url}/mutate`, readFileSync(offline.caFile, 'utf8'), 'POST', review('uid-9', labelled({ 'secret-groups.io/project': 'shop', 'secret-groups.io/workload': 'api' })));
      const res = (JSON.parse(r.body) as { response: Response }).response;
      expect(res.allowed).toBe(false);
      expect(res.status!.message).toMatch(/unreachable.*failurePolicy Fail/);
    } finally {
      await offline.stop();
    }
  });

  it('serves a certificate replaced on disk without a restart', async () => {
    const { startInjectorServer } = await import('../../server/k8s-injector/server.js');
    const { workloadChecker } = await import('../../server/k8s-injector/workload-check.js');
    const { createLogger } = await import('../../server/log.js');
    const first = await makeServingCert(backend.dir, 'rotate-a');
    const second = await makeServingCert(backend.dir, 'rotate-b');
    const live = { cert: `${backend.dir}/live.crt`, key: `${backend.dir}/live.key` };
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    const server = await startInjectorServer({
      host: '127.0.0.1',
      port: 0,
      tlsCert: live.cert,
      tlsKey: live.key,
      settings: { agentImage: AGENT_IMAGE, serverAddr: backend.server.addr },
      checker: workloadChecker({ addr: backend.server.addr, tokenFile: backend.injectorTokenFile }),
      log: createLogger('silent'),
      reloadIntervalMs: 100,
    });
    const issuer = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const [host, port] = server.addr.split(':');
        const s = connect({ host, port: Number(port), rejectUnauthorized: false }, () => {
          const cn = s.getPeerCertificate().issuer.CN;
          s.end();
          resolve(String(cn));
        });
        s.on('error', reject);
      });
    try {
      expect(await issuer()).toBe('rotate-a-test-ca');
      copyFileSync(second.key, live.key);
      copyFileSync(second.cert, live.cert);
      let cn = '';
      for (let i = 0; i < 50 && cn !== 'rotate-b-test-ca'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        cn = await issuer();
      }
      expect(cn).toBe('rotate-b-test-ca');
      const reply = await https(`https://${server.addr}/healthz`, readFileSync(second.ca, 'utf8'), 'GET');
      expect(reply.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
