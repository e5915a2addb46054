/**
 * The test control plane itself (test/helpers/kube-control-plane.ts): the API server answers,
 * `kubectl create token` mints a projected token, and TokenReview verifies it with the
 * audience it was made for — what the server's service-account login relies on.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithKube, startControlPlane, type ControlPlane } from '../helpers/kube-control-plane.js';

describeWithKube('a real Kubernetes control plane', () => {
  let kube: ControlPlane;
  beforeAll(async () => {
    kube = await startControlPlane();
  }, 180_000);
  afterAll(() => kube?.stop());

  const review = async (token: string, audience: string) =>
    JSON.parse(
      await kube.kubectl(['create', '-o', 'json', '-f', '-'], JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [audience] } })),
    ).status as { authenticated?: boolean; user?: { username: string }; audiences?: string[] };

  it('mints service-account tokens that TokenReview accepts for their audience only', async () => {
    await kube.createNamespace('shop');
    await kube.kubectl(['-n', 'shop', 'create', 'serviceaccount', 'api']);
    const token = await kube.createToken('shop', 'api', 'secret-groups');
    const ok = await review(token, 'secret-groups');
    expect(ok.authenticated).toBe(true);
    expect(ok.user?.username).toBe('system:serviceaccount:shop:api');
    expect(ok.audiences).toEqual(['secret-groups']);
    expect((await review(token, 'another-audience')).authenticated).toBeFalsy();
  });
});
