/**
 * Starts the real `sg serve` as a child process on an ephemeral loopback port, the way a user
 * runs it, and stops it afterwards. Requires `npm run build` (npm test runs it first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
/** What users run: package.json's "bin" entries (the bundles of scripts/bundle-bins.mjs). */
const BIN = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
export const SG = join(ROOT, BIN.sg!);
export const SG_AGENT = join(ROOT, BIN['sg-agent']!);

export interface ServerProcess {
  addr: string;
  /** The web console URL printed in the start-up line, when it is served. */
  consoleUrl: string | undefined;
  dataDir: string;
  adminToken: string;
  proc: ChildProcess;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Starts again on the same address and data directory (after stop or kill). */
  restart(): Promise<void>;
  /** stop() and remove the data directory (unless it was given). */
  cleanup(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  /** Fixed address (for restarts keep the same port); default 127.0.0.1:0. */
  addr?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

export async function startServerProcess(opts: StartOptions = {}): Promise<ServerProcess> {
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sg-server-'));
  let out = '';
  let proc!: ChildProcess;
  let addr = opts.addr ?? '127.0.0.1:0';
  let consoleUrl: string | undefined;

  const launch = () =>
    new Promise<void>((resolveStart, reject) => {
      proc = spawn(process.execPath, [SG, 'serve', '--addr', addr, '--data', dataDir, ...(opts.args ?? [])], {
        // Console off unless asked for (flag or env): parallel servers must not race for 8080.
        env: { ...process.env, SG_LOG_LEVEL: process.env.SG_LOG_LEVEL ?? 'warn', SG_CONSOLE_ADDR: 'off', ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const timer = setTimeout(() => reject(new Error(`server did not start within 20 s:\n${out}`)), 20_000);
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          addr = m[1]!;
          consoleUrl = /\(web console: (\S+)\)/.exec(out)?.[1];
          resolveStart();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before listening:\n${out}`));
      });
    });

  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((done) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return done();
      proc.once('exit', () => done());
      proc.kill(signal);
    });

  await launch();
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const server: ServerProcess = {
    get addr() {
      return addr;
    },
    get consoleUrl() {
      return consoleUrl;
    },
    dataDir,
    adminToken,
    get proc() {
      return proc;
    },
    output: () => out,
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    restart: async () => {
      await waitExit('SIGKILL');
      out = '';
      await launch();
    },
    cleanup: async () => {
      await waitExit('SIGTERM');
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a node script (the CLI or the agent) to completion with optional stdin. */
export function runNode(script: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string, timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
    // A command that exits without reading its input closes the pipe first: the EPIPE that
    // writing then raises is not a result (the exit status and output are), and unhandled it
    // would fail the whole test run.
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reject(e);
    });
    child.stdin.end(input ?? '');
  });
}

/** Runs `sg ARGS` against a server with its admin token (override with env). */
export function sg(server: Pick<ServerProcess, 'addr' | 'adminToken'>, args: string[], env: NodeJS.ProcessEnv = {}, input?: string) {
  return runNode(SG, args, { SG_ADDR: server.addr, SG_TOKEN: server.adminToken, ...env }, input);
}
