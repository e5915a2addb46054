/** Real agent processes against a real server, for the end-to-end agent tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { SG_AGENT, sg, type ServerProcess } from '../helpers/server-process.js';

export interface AgentProcess {
  proc: ChildProcess;
  output(): string;
  stderr(): string;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts sg-agent with the given arguments; the caller must end it (the suite kills leftovers). */
export function startAgent(args: string[], env: NodeJS.ProcessEnv): AgentProcess {
  const proc = spawn(process.execPath, [SG_AGENT, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return { proc, output: () => out + err, stderr: () => err, stdout: () => out, exited };
}

const running = new Set<ChildProcess>();
export function killAgents(): void {
  for (const p of running) p.kill('SIGKILL');
}

export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function exitOf(a: AgentProcess, ms = 20_000) {
  let t: NodeJS.Timeout | undefined;
  const r = await Promise.race([a.exited, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`agent did not exit within ${ms} ms:\n${a.output()}`)), ms)))]);
  clearTimeout(t);
  return r;
}

export const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

/** Runs `sg` and fails the test with its stderr when it fails. */
export async function sgOk(server: ServerProcess, args: string[], input?: string): Promise<string> {
  const r = await sg(server, args, {}, input);
  if (r.code !== 0) throw new Error(`sg ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function workloadToken(server: ServerProcess, ref: string, build = false): Promise<string> {
  return (await sgOk(server, ['token', 'create', '--workload', ref, ...(build ? ['--build'] : [])])).trim();
}

/** Imports variables into a group from JSON, so any value (newlines included) goes in exactly. */
export async function setVars(server: ServerProcess, project: string, group: string, vars: Record<string, string>): Promise<void> {
  await sgOk(server, ['group', 'import', project, group, '-', '--format', 'json'], JSON.stringify(vars));
}
