/** Child processes of the benchmark: the servers under test, pinned, and small node children. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { pin, placement } from './util.js';

/** The repository root (this file runs from dist/test/bench/lib). */
export const ROOT = resolvePath(import.meta.dirname, '../../../..');
/** The commands users run: package.json's "bin" entries. */
const BIN = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
export const SG = join(ROOT, BIN.sg!);
export const SG_AGENT = join(ROOT, BIN['sg-agent']!);

export interface SgServer {
  addr: string;
  pid: number;
  dataDir: string;
  adminToken: string;
  pinned: boolean;
  /** SIGTERM, wait, remove the data directory. */
  cleanup(): Promise<void>;
}

/** `sg serve` (the built CLI) in its own process on a free loopback port, pinned to the server CPU. */
export async function startSg(opts: { args?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<SgServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sg-bench-'));
  // `npm run bench -- --profile` writes a CPU profile of every server under test here.
  const profileDir = process.env.SG_BENCH_PROFILE_DIR;
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = await startListening(
    SG,
    ['serve', '--addr', '127.0.0.1:0', '--data', dataDir, ...(opts.args ?? [])],
    placement()?.server,
    { ...process.env, SG_LOG_LEVEL: 'warn', ...opts.env },
    nodeArgs,
  );
  return {
    addr: child.addr,
    pid: child.proc.pid!,
    dataDir,
    adminToken: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(),
    pinned: child.pinned,
    cleanup: async () => {
      await child.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Child {
  proc: ChildProcess;
  addr: string;
  pinned: boolean;
  stop(): Promise<void>;
}

/** Starts `node SCRIPT ARGS` and waits for it to print `listening on HOST:PORT`. */
export function startListening(script: string, args: string[], cpus?: string, env: NodeJS.ProcessEnv = process.env, nodeArgs: string[] = []): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${out}`)), 20_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        const pinned = cpus ? pin(proc.pid!, cpus) : false;
        // Keep draining output so that a chatty child never blocks on a full pipe.
        proc.stdout!.off('data', onData);
        proc.stderr!.off('data', onData);
        proc.stdout!.resume();
        proc.stderr!.on('data', (c: Buffer) => process.stderr.write(`[${script.split('/').pop()}] ${c.toString()}`));
        proc.removeAllListeners('exit');
        resolve({ proc, addr: m[1]!, pinned, stop: () => stopChild(proc) });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}:\n${out}`));
    });
  });
}

/** SIGTERM, SIGKILL after 5 s; resolves on exit. */
export function stopChild(proc: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return done();
    const killer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    proc.once('exit', () => {
      clearTimeout(killer);
      done();
    });
    proc.kill('SIGTERM');
  });
}
