/**
 * Kubernetes service-account identity through a real API server (test/helpers/kube-control-plane.ts):
 * the real `sg serve --k8s-api … --k8s-ca … --k8s-token-file …` reviews tokens that
 * `kubectl create token` minted; bindings are made with the real `sg workload bind`; the real
 * agent authenticates with `--k8s-token-file`. The server's own credential is the control
 * plane's administrator token (system:masters may create TokenReviews).
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Clients } from '../../client/connection.js';
import { WatchRequest } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { runner, type Runner } from '../cli/harness.js';
import { exitOf, killAgents, startAgent, until } from '../agent/helpers.js';
import { describeWithKube, startControlPlane, type ControlPlane } from '../helpers/kube-control-plane.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** How long an accepted review is cached (server/security/k8s/token-reviewer.ts), plus slack. */
const REVIEW_PERIOD_MS = 10_000;

describeWithKube('Kubernetes service-account identity (real API server)', () => {
  let kube: ControlPlane;
  let server: ServerProcess;
  let sg: Runner;
  let dir: string;
  const clients: Clients[] = [];

  /** `sg` as a pod would be: its bearer credential is the Kubernetes token. */
  const as = (token: string) => ({ env: { SG_TOKEN: token } });
  const refusal = (args: string[], token: string) => sg.fails(args, as(token));
  const tokenFor = (sa: string, audience = 'secret-groups') => kube.createToken('shop', sa, audience);

  /** An open Watch with this credential: its first message, then how it ended. */
  function watch(token: string, workload: string) {
    const c = connect({ addr: server.addr, token });
    clients.push(c);
    const state = { messages: 0, error: undefined as grpc.ServiceError | undefined };
    const stream = c.resolver.watch(WatchRequest.fromPartial({ project: 'shop', workload, scope: Scope.SCOPE_RUNTIME }));
    stream.on('data', () => state.messages++);
    stream.on('error', (e: grpc.ServiceError) => (state.error = e));
    return state;
  }

  beforeAll(async () => {
    kube = await startControlPlane();
    await kube.createNamespace('shop');
    for (const sa of ['api', 'builder', 'idle', 'doomed', 'web']) await kube.kubectl(['-n', 'shop', 'create', 'serviceaccount', sa]);
    server = await startServerProcess({ args: ['--k8s-api', kube.url, '--k8s-ca', kube.caFile, '--k8s-token-file', kube.adminTokenFile] });
    sg = runner(server);
    dir = mkdtempSync(join(tmpdir(), 'sg-k8s-identity-'));
    await sg.ok(['project', 'create', 'shop']);
    await sg.ok(['workload', 'create', 'shop', 'api', '--var', 'GREETING=hello from shop', '--build-arg', 'VERSION=1.2.3']);
    await sg.ok(['workload', 'create', 'shop', 'ci', '--build-arg', 'VERSION=2.0.0']);
    await sg.ok(['workload', 'create', 'shop', 'reports']);
    await sg.ok(['workload', 'create', 'shop', 'web', '--var', 'GREETING=web one']);
  }, 240_000);

  afterAll(async () => {
    killAgents();
    for (const c of clients) c.close();
    await server?.cleanup();
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('binds service accounts with the real CLI, one workload each, shown by workload get', async () => {
    expect(await sg.ok(['workload', 'bind', 'shop', 'api', '--k8s-service-account', 'shop/api'])).toMatch(/^Bound Kubernetes service account shop\/api to workload shop\/api \(runtime\)/);
    const ci = await sg.json<{ serviceAccount: string; scopes: string[] }>(['workload', 'bind', 'shop', 'ci', '--k8s-service-account', 'shop/builder', '--build']);
    expect(ci).toMatchObject({ serviceAccount: 'shop/builder', workload: 'shop/ci', scopes: ['runtime', 'build'] });
    await sg.ok(['workload', 'bind', 'shop', 'reports', '--k8s-service-account', 'shop/doomed']);
    // A service account is bound to at most one workload: the refusal names the other one.
    expect(await sg.fails(['workload', 'bind', 'shop', 'reports', '--k8s-service-account', 'shop/api'])).toMatch(/shop\/api is already bound to workload shop\/api .*unbind it there first/);
    expect(await sg.fails(['workload', 'bind', 'shop', 'api', '--k8s-service-account', 'Shop/API'])).toMatch(/service account must be NAMESPACE\/NAME/);
    const got = await sg.json<{ serviceAccounts: { serviceAccount: string; scopes: string[] }[] }>(['workload', 'get', 'shop', 'api']);
    expect(got.serviceAccounts.map((b) => [b.serviceAccount, b.scopes])).toEqual([['shop/api', ['runtime']]]);
    expect(await sg.ok(['workload', 'get', 'shop', 'api'])).toMatch(/Kubernetes service accounts:\n.*SERVICE ACCOUNT[\s\S]*shop\/api +runtime/);
    // Bindings are audited.
    const audit = await sg.json<{ events: { action: string; target: string }[] }>(['audit', '--action', 'BindServiceAccount']);
    expect(audit.events.map((e) => e.target)).toContain('workload shop/api: service account shop/api (runtime) as binding ' + (await bindingId('shop/api')));
  });

  async function bindingId(account: string): Promise<string> {
    const tokens = await sg.json<{ tokens: { id: string; k8sServiceAccount?: string; revoked: boolean }[] }>(['token', 'list']);
    return tokens.tokens.find((t) => t.k8sServiceAccount === account && !t.revoked)!.id;
  }

  it('a bound service account resolves its own workload, runtime only unless bound with --build, and nothing else', async () => {
    const api = await tokenFor('api');
    const resolved = await sg.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api'], as(api));
    expect(resolved.variables).toEqual({ GREETING: 'hello from shop' });
    expect(await refusal(['resolve', 'shop', 'api', '--scope', 'build'], api)).toMatch(/may not resolve the build scope/);
    expect(await refusal(['resolve', 'shop', 'ci'], api)).toMatch(/may only resolve shop\/api/);
    expect(await refusal(['workload', 'list', 'shop'], api)).toMatch(/may only resolve its own identity/);
    // Never administration: it cannot bind another service account (or itself) anywhere.
    expect(await refusal(['workload', 'bind', 'shop', 'api', '--k8s-service-account', 'shop/idle'], api)).toMatch(/role workload may not administer/);
    expect(await refusal(['token', 'create', '--workload', 'shop/api'], api)).toMatch(/may not administer tokens/);
    expect(await sg.json(['whoami'], as(api))).toMatchObject({ k8sServiceAccount: 'shop/api', role: 'workload', workload: 'shop/api' });
    const builder = await tokenFor('builder');
    expect((await sg.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'ci', '--scope', 'build'], as(builder))).variables).toEqual({ VERSION: '2.0.0' });
    // Its calls are recorded under the service account.
    await until(async () => (await sg.json<{ events: { actor: string }[] }>(['audit', '--actor', 'workload:shop/api(k8s:shop/api)'])).events.length > 0, 'an audit record of the service account', 15_000);
  });

  it('refuses an unbound service account, another audience and an expired token, with a reason and an audit record', async () => {
    const idle = await tokenFor('idle');
    expect(await refusal(['resolve', 'shop', 'api'], idle)).toMatch(/Kubernetes service account shop\/idle is not bound to a workload; an administrator binds it with: sg workload bind PROJECT WORKLOAD --k8s-service-account shop\/idle/);
    const other = await tokenFor('api', 'other');
    const why = await refusal(['resolve', 'shop', 'api'], other);
    expect(why).toMatch(/the Kubernetes token is not for audience "secret-groups"/);
    // No token text in the refusal.
    expect(why).not.toContain(other.split('.')[1]!.slice(0, 24));
    // An expired token (its exp passed; the API server mints none shorter than 10 min, so a real
    // token's claims are set back an hour) is refused before any review, saying so.
    const [head, body, sig] = (await tokenFor('api')).split('.');
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString()) as { exp: number };
    const expired = [head, Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(Date.now() / 1000) - 3600 })).toString('base64url'), sig].join('.');
    expect(await refusal(['resolve', 'shop', 'api'], expired)).toMatch(/the Kubernetes service-account token has expired/);
    await until(
      async () => {
        const events = (await sg.json<{ events: { detail: string; outcome: string }[] }>(['audit', '--action', 'Resolve'])).events;
        return (
          events.some((e) => e.outcome === 'denied' && /shop\/idle is not bound/.test(e.detail)) &&
          events.some((e) => /not for audience/.test(e.detail)) &&
          events.some((e) => /token has expired/.test(e.detail))
        );
      },
      'audit records of the refusals',
      15_000,
    );
  });

  it('the agent runs a command with the variables, authenticated by its projected token file', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${await tokenFor('api')}\n`);
    const agent = startAgent(['exec', '--addr', server.addr, '--project', 'shop', '--workload', 'api', '--k8s-token-file', file, '--', 'sh', '-c', 'echo "seen: $GREETING"'], { SG_TOKEN: '' });
    const { code } = await exitOf(agent);
    expect(agent.stdout(), agent.output()).toBe('seen: hello from shop\n');
    expect(code).toBe(0);
    // build-args needs a binding made with --build.
    writeFileSync(file, `${await tokenFor('builder')}\n`);
    const build = startAgent(['build-args', '--addr', server.addr, '--project', 'shop', '--workload', 'ci', '--format', 'json', '--k8s-token-file', file], { SG_TOKEN: '' });
    expect((await exitOf(build)).code, build.output()).toBe(0);
    expect(JSON.parse(build.stdout())).toEqual({ VERSION: '2.0.0' });
  });

  it('a deleted service account is refused once the cached review lapses, and its open Watch ends', async () => {
    const doomed = await tokenFor('doomed');
    await sg.ok(['resolve', 'shop', 'reports'], as(doomed));
    const w = watch(doomed, 'reports');
    await until(() => w.messages > 0, 'the first Watch message');
    await kube.kubectl(['-n', 'shop', 'delete', 'serviceaccount', 'doomed']);
    const deleted = Date.now();
    await until(() => w.error !== undefined, 'the Watch to end', REVIEW_PERIOD_MS + 10_000);
    expect(w.error!.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(w.error!.details).toMatch(/Kubernetes did not authenticate the token/);
    expect(Date.now() - deleted).toBeLessThan(REVIEW_PERIOD_MS + 5_000);
    expect(await refusal(['resolve', 'shop', 'reports'], doomed)).toMatch(/Kubernetes did not authenticate the token/);
    // Both the ended stream and the refused call are in the audit log.
    await until(
      async () => {
        const events = (await sg.json<{ events: { action: string; detail: string; outcome: string }[] }>(['audit', '--limit', '200'])).events;
        const refused = events.filter((e) => e.outcome !== 'ok' && /Kubernetes did not authenticate the token/.test(e.detail));
        return refused.some((e) => e.action === 'Watch') && refused.some((e) => e.action === 'Resolve');
      },
      'audit records of the deleted service account\'s ended Watch and refused Resolve',
      15_000,
    );
  }, 40_000);

  it('the agent re-reads its token file: when the old token is refused it goes on with the one the kubelet wrote since', async () => {
    await sg.ok(['workload', 'bind', 'shop', 'web', '--k8s-service-account', 'shop/web']);
    // Tokens bound to an object, as the kubelet's are to the pod: deleting the object ends that token only.
    for (const s of ['web-first', 'web-second']) await kube.kubectl(['-n', 'shop', 'create', 'secret', 'generic', s, '--from-literal=x=y']);
    const boundToken = async (secret: string) =>
      (await kube.kubectl(['-n', 'shop', 'create', 'token', 'web', '--audience', 'secret-groups', '--bound-object-kind', 'Secret', '--bound-object-name', secret])).trim();
    const file = join(dir, 'web-token');
    const out = join(dir, 'web.json');
    writeFileSync(file, `${await boundToken('web-first')}\n`);
    const agent = startAgent(['write', '--addr', server.addr, '--project', 'shop', '--workload', 'web', '--k8s-token-file', file, '--out', out, '--format', 'json', '--watch', '--log-level', 'info'], { SG_TOKEN: '' });
    const greeting = () => (existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { GREETING?: string }).GREETING : undefined);
    await until(() => greeting() === 'web one', 'the first write', 15_000);
    // The kubelet's rotation: a new token in the file (replaced atomically), then the old one dies.
    writeFileSync(`${file}.new`, `${await boundToken('web-second')}\n`);
    renameSync(`${file}.new`, file);
    await kube.kubectl(['-n', 'shop', 'delete', 'secret', 'web-first']);
    await until(() => /reconnecting with the rotated one/.test(agent.stderr()), 'the agent to reconnect with the new token', REVIEW_PERIOD_MS + 10_000);
    await sg.ok(['workload', 'update', 'shop', 'web', '--var', 'GREETING=web two']);
    await until(() => greeting() === 'web two', 'a change written after the rotation', 15_000);
    expect(agent.proc.exitCode, agent.output()).toBeNull();
    agent.proc.kill('SIGTERM');
    await agent.exited;
    expect(agent.output()).not.toMatch(/exit|refused the token/i);
  }, 60_000);

  it('unbinding refuses the service account at once and ends its open Watch', async () => {
    const api = await tokenFor('api');
    const w = watch(api, 'api');
    await until(() => w.messages > 0, 'the first Watch message');
    expect(await sg.ok(['workload', 'unbind', 'shop', 'api', '--k8s-service-account', 'shop/api'])).toBe('Unbound Kubernetes service account shop/api from workload shop/api\n');
    await until(() => w.error !== undefined, 'the Watch to end', 5_000);
    expect(w.error!.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(w.error!.details).toMatch(/binding of Kubernetes service account shop\/api was removed/);
    expect(await refusal(['resolve', 'shop', 'api'], api)).toMatch(/shop\/api is no longer bound to a workload \(unbound\)/);
    expect((await sg.json<{ serviceAccounts: unknown[] }>(['workload', 'get', 'shop', 'api'])).serviceAccounts).toEqual([]);
    const unbound = await sg.json<{ events: { action: string; target: string; outcome: string }[] }>(['audit', '--action', 'UnbindServiceAccount']);
    expect(unbound.events.map((e) => [e.outcome, e.target])).toContainEqual(['ok', expect.stringMatching(/^workload shop\/api: service account shop\/api \(binding [0-9a-f]+\)$/)]);
    expect(await sg.fails(['workload', 'unbind', 'shop', 'api', '--k8s-service-account', 'shop/api'])).toMatch(/binding of Kubernetes service account shop\/api to workload shop\/api not found/);
    // Free again: it may be bound to another workload.
    await sg.ok(['workload', 'bind', 'shop', 'reports', '--k8s-service-account', 'shop/api']);
    expect((await sg.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'reports'], as(api))).variables).toEqual({});
  });
});
