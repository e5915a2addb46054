/**
 * What the injector tests share: a real secret-groups server with project `shop`, workload
 * `api` and a group of variables; the injector's keys-only token (a custom role, as
 * docs/kubernetes.md creates it); the real `sg k8s-injector serve` with a certificate made by
 * openssl; and an HTTPS client for its endpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { makeServingCert } from '../helpers/kube-control-plane.js';
import { SG, sg, startServerProcess, type ServerProcess } from '../helpers/server-process.js';

export const AGENT_IMAGE = 'registry.example/secret-groups-agent:test';

export interface Backend {
  server: ServerProcess;
  dir: string;
  /** The injector's token (role k8s-injector: secret none, config keys). */
  injectorTokenFile: string;
  cleanup(): Promise<void>;
}

async function ok(server: ServerProcess, args: string[]): Promise<string> {
  const r = await sg(server, args);
  expect(r.code, `sg ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** `serverArgs`: more flags for `sg serve`. */
export async function startBackend(serverArgs: string[] = []): Promise<Backend> {
  const server = await startServerProcess({ args: serverArgs });
  const dir = mkdtempSync(join(tmpdir(), 'sg-injector-'));
  await ok(server, ['project', 'create', 'shop']);
  await ok(server, ['workload', 'create', 'shop', 'api']);
  await ok(server, ['group', 'create', 'shop', 'common', '--type', 'secret']);
  await ok(server, ['group', 'set', 'shop', 'common', 'GREETING=hello from secret-groups', "QUOTED=it's $HOME `x`", '--literal']);
  writeFileSync(join(dir, 'key.pem'), 'not really a key\n');
  await ok(server, ['group', 'file', 'add', 'shop', 'common', '/etc/app/key.pem', '--from', join(dir, 'key.pem'), '--mode', '0600']);
  await ok(server, ['role', 'create', 'k8s-injector', '--secret', 'none', '--config', 'keys', '--description', 'secret-groups injector: does a workload exist']);
  const token = (await ok(server, ['token', 'create', '--role', 'k8s-injector', '--name', 'k8s-injector'])).trim();
  const injectorTokenFile = join(dir, 'injector.token');
  writeFileSync(injectorTokenFile, `${token}\n`, { mode: 0o600 });
  return {
    server,
    dir,
    injectorTokenFile,
    async cleanup() {
      await server.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface InjectorProcess {
  /** https://127.0.0.1:PORT */
  url: string;
  /** CA that signed its certificate (PEM file). */
  caFile: string;
  output(): string;
  stop(): Promise<void>;
}

/** `sg k8s-injector serve` on an ephemeral loopback port, as an operator runs it. */
export async function startInjector(b: Backend, extra: string[] = [], serverAddr = b.server.addr): Promise<InjectorProcess> {
  const pair = await makeServingCert(b.dir, `injector-${Date.now()}`);
  const proc: ChildProcess = spawn(
    process.execPath,
    [SG, 'k8s-injector', 'serve', '--listen', '127.0.0.1:0', '--tls-cert', pair.cert, '--tls-key', pair.key, '--agent-image', AGENT_IMAGE, '--server-addr', serverAddr, '--token-file', b.injectorTokenFile, ...extra],
    { env: { ...process.env, SG_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`injector did not start:\n${out}`)), 15_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /injector listening on (https:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`injector exited ${code}:\n${out}`)));
  });
  return {
    url,
    caFile: pair.ca,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export interface HttpsReply {
  status: number;
  body: string;
}

/** One HTTPS request, verifying the server with `ca`. */
export function https(url: string, ca: string, method: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
