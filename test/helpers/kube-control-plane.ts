/**
 * A real Kubernetes control plane for tests: Debian's etcd and kube-apiserver (built from the
 * k8s.io/kubernetes module by `.ci/install-kube-apiserver.sh`), both on loopback, with a
 * serving certificate from a throw-away CA, a static token for a test administrator
 * (system:masters) and service-account signing keys, so `kubectl create token` mints real
 * projected tokens and TokenReview verifies them. No kubelet and no controller manager: pods
 * are admitted and stored, never run, and namespaces get no `default` service account by
 * themselves (createNamespace makes one).
 *
 * Missing binaries fail the suite under CI=true and skip it elsewhere, with the reason (see
 * describeWithKube) — never a silent pass.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  url: string;
  /** The CA that signed the API server's certificate (PEM file). */
  caFile: string;
  /** Bearer token of the test administrator (system:masters). */
  adminToken: string;
  /** A file holding adminToken, for flags that take a token file. */
  adminTokenFile: string;
  kubeconfig: string;
  /** Runs kubectl against this control plane; rejects with its stderr on failure. */
  kubectl(args: string[], input?: string): Promise<string>;
  /** A namespace with its `default` service account (no controller manager makes it). */
  createNamespace(name: string): Promise<void>;
  /** A projected token for a service account (`kubectl create token`). */
  createToken(namespace: string, serviceAccount: string, audience: string, durationSeconds?: number): Promise<string>;
  /** A directory removed by stop(). */
  dir: string;
  stop(): Promise<void>;
}

const INSTALL_HINT = 'run `bash .ci/install-kube-apiserver.sh` (needs Go and apt-get)';

function findBinary(name: string): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8', timeout: 10_000 });
  if (gopath.status === 0 && gopath.stdout.trim()) dirs.push(join(gopath.stdout.trim().split(delimiter)[0]!, 'bin'));
  dirs.push(join(homedir(), 'go', 'bin'));
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  return null;
}

/** The binaries, or why they are missing. */
export function findKube(): { apiserver: string; etcd: string; kubectl: string } | { reason: string } {
  const apiserver = findBinary('kube-apiserver');
  const etcd = findBinary('etcd');
  const kubectl = findBinary('kubectl');
  const missing = [!apiserver && 'kube-apiserver', !etcd && 'etcd', !kubectl && 'kubectl'].filter(Boolean);
  if (missing.length) return { reason: `no ${missing.join(', ')} on PATH or in $(go env GOPATH)/bin; ${INSTALL_HINT}` };
  return { apiserver: apiserver!, etcd: etcd!, kubectl: kubectl! };
}

/**
 * Declares `body` when the control plane's binaries exist. Otherwise: under CI=true one failing
 * test carrying the reason; elsewhere a skipped block saying why.
 */
export function describeWithKube(title: string, body: () => void): void {
  const found = findKube();
  if (!('reason' in found)) {
    describe(title, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(title, () => {
      it('has a Kubernetes control plane to test against', () => {
        throw new Error(found.reason);
      });
    });
    return;
  }
  describe.skip(`${title} (skipped: ${found.reason})`, body);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** A CA and a serving certificate for 127.0.0.1/localhost, made with Debian's openssl. */
export async function makeServingCert(dir: string, name: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, `${name}-ca.crt`);
  const caKey = join(dir, `${name}-ca.key`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', `/CN=${name}-test-ca`]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { ca, cert, key };
}

function ready(url: string, ca: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/readyz`, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts etcd and kube-apiserver; resolves once /readyz answers 200 (a few seconds). The ports
 * are picked free just before the processes bind them, so another test process can take one
 * in between: a start that fails with "address already in use" is tried again on new ports.
 */
export async function startControlPlane(): Promise<ControlPlane> {
  const found = findKube();
  if ('reason' in found) throw new Error(found.reason);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(found);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test((e as Error).message)) throw e;
    }
  }
}

async function startOnce(found: { apiserver: string; etcd: string; kubectl: string }): Promise<ControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-kube-'));
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const keep = (child: ChildProcess, name: string) => {
    children.push(child);
    const add = (d: Buffer) => {
      logs.push(`[${name}] ${d.toString()}`);
      if (logs.length > 200) logs.shift();
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
  };
  const stop = async () => {
    for (const c of children.reverse()) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    keep(
      spawn(found.etcd, [
        '--data-dir', join(dir, 'etcd'),
        '--listen-client-urls', `http://127.0.0.1:${etcdPort}`,
        '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
        '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-cluster', `default=http://127.0.0.1:${peerPort}`,
        '--log-level', 'warn',
      ], { stdio: ['ignore', 'pipe', 'pipe'] }),
      'etcd',
    );
    const serving = await makeServingCert(dir, 'apiserver');
    const saKey = join(dir, 'sa.key');
    const saPub = join(dir, 'sa.pub');
    await run('openssl', ['genrsa', '-out', saKey, '2048']);
    await run('openssl', ['rsa', '-in', saKey, '-pubout', '-out', saPub]);
    const adminToken = randomBytes(24).toString('hex');
    const adminTokenFile = join(dir, 'admin.token');
    writeFileSync(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'tokens.csv'), `${adminToken},test-admin,test-admin,"system:masters"\n`, { mode: 0o600 });
    keep(
      spawn(found.apiserver, [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${serving.cert}`,
        `--tls-private-key-file=${serving.key}`,
        `--cert-dir=${join(dir, 'certs')}`,
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        // Configuration only: no traffic goes to this range (no kubelet, no proxy).
        '--service-cluster-ip-range=10.96.0.0/24',
        '--profiling=false',
        '--v=0',
      ], { stdio: ['ignore', 'pipe', 'pipe'] }),
      'kube-apiserver',
    );
    const url = `https://127.0.0.1:${apiPort}`;
    const ca = readFileSync(serving.ca, 'utf8');
    const deadline = Date.now() + 120_000;
    while (!(await ready(url, ca, adminToken))) {
      if (children.some((c) => c.exitCode !== null)) throw new Error(`the control plane exited:\n${logs.join('')}`);
      if (Date.now() > deadline) throw new Error(`kube-apiserver not ready after 120 s:\n${logs.join('')}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: test',
        `  cluster: { server: "${url}", certificate-authority: "${serving.ca}" }`,
        'users:',
        '- name: test-admin',
        `  user: { token: "${adminToken}" }`,
        'contexts:',
        '- name: test',
        '  context: { cluster: test, user: test-admin }',
        'current-context: test',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const kubectl = (args: string[], input?: string) => run(found.kubectl, ['--kubeconfig', kubeconfig, ...args], { input });
    return {
      url,
      caFile: serving.ca,
      adminToken,
      adminTokenFile,
      kubeconfig,
      kubectl,
      dir,
      async createNamespace(name) {
        await kubectl(['create', 'namespace', name]);
        await kubectl(['-n', name, 'create', 'serviceaccount', 'default']);
      },
      async createToken(namespace, serviceAccount, audience, durationSeconds) {
        const args = ['-n', namespace, 'create', 'token', serviceAccount, '--audience', audience];
        if (durationSeconds) args.push('--duration', `${durationSeconds}s`);
        return (await kubectl(args)).trim();
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
