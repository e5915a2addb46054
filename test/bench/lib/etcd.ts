/**
 * etcd for the side-by-side fan-out figure: Debian's `etcd-server` (3.4), installed with
 * apt-get when missing, started on loopback ports with a temporary data directory, pinned
 * like the sg server, and stopped afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { stopChild } from './procs.js';
import { pin, placement, sleep } from './util.js';

export interface EtcdServer {
  endpoint: string;
  pid: number;
  version: string;
  pinned: boolean;
  stop(): Promise<void>;
}

const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();

/** The etcd binary, installing Debian's etcd-server when absent. Throws with the reason otherwise. */
export function ensureEtcd(log: (s: string) => void): string {
  let bin = process.env.ETCD_BIN || which('etcd');
  if (bin) return bin;
  log('  etcd not found: apt-get install -y etcd-server');
  const run = (args: string[]) => {
    const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).slice(-500)}`);
  };
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  run([...sudo, 'apt-get', 'update', '-qq']);
  run([...sudo, 'apt-get', 'install', '-y', '-qq', 'etcd-server']);
  bin = which('etcd');
  if (!bin) throw new Error('etcd-server installed but no etcd on PATH');
  return bin;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export async function startEtcd(bin: string): Promise<EtcdServer> {
  const version = /etcd Version: (\S+)/.exec(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${client}`;
  let out = '';
  const proc: ChildProcess = spawn(
    bin,
    [
      '--name', 'bench',
      '--data-dir', join(dir, 'data'),
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `bench=http://127.0.0.1:${peer}`,
      '--logger', 'zap',
      '--log-level', 'error',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const p = placement();
  const pinned = p ? pin(proc.pid!, p.server) : false;
  const stop = async () => {
    await stopChild(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  const probe = new Etcd3({ hosts: endpoint });
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`etcd exited (${proc.exitCode}):\n${out}`);
      try {
        await probe.put('bench/ready').value('1');
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`etcd did not answer within 20 s: ${String(e)}\n${out}`);
        await sleep(200);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  } finally {
    probe.close();
  }
  return { endpoint, pid: proc.pid!, version, pinned, stop };
}
