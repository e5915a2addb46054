/** Small shared pieces of the benchmark: clocks, statistics, process placement, RSS, machine. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Nearest-rank percentile of unsorted samples (p in 0..100). */
export function percentile(samples: readonly number[], p: number): number {
  if (!samples.length) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (xs: readonly number[]) => percentile(xs, 50);

export const round = (x: number, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

/** Resident set size of a process in MB (VmRSS from /proc/PID/status). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** CPU time (user + system, ms) a process has used so far (/proc/PID/stat, clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const { user, system } = cpuSplitMs(pid);
  return user + system;
}

/** How many write system calls a process has made so far (`syscw` in /proc/PID/io). */
export function writeCalls(pid: number): number {
  return Number(/^syscw:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
}

/** A process's user and system CPU time so far, in ms. */
export function cpuSplitMs(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 }; // utime, stime (fields 14 and 15)
}

/** CPUs this machine has, as taskset lists. */
export const CPU_COUNT = cpus().length;

/**
 * Pins every thread of a process to the given CPUs (taskset -a). With two cores the server
 * under test gets CPU 0 and the load generator CPU 1, so neither steals the other's core.
 * Returns false when taskset is missing or refuses (placement is then left to the kernel).
 */
export function pin(pid: number, cpuList: string): boolean {
  if (CPU_COUNT < 2) return false;
  const r = spawnSync('taskset', ['-a', '-cp', cpuList, String(pid)], { encoding: 'utf8' });
  return r.status === 0;
}

/** The placement used by every section, or null on a one-CPU machine. */
export function placement(): { server: string; clients: string } | null {
  if (CPU_COUNT < 2) return null;
  return { server: '0', clients: CPU_COUNT === 2 ? '1' : `1-${CPU_COUNT - 1}` };
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memGb: number;
  node: string;
  os: string;
  placement: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch {
    /* not Linux */
  }
  let os = `${process.platform} ${process.arch}`;
  try {
    os = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  } catch {
    /* keep the fallback */
  }
  const p = placement();
  return {
    nproc: CPU_COUNT,
    cpuModel,
    memGb: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
    os,
    placement: p
      ? `servers under test (sg, no-op, etcd) pinned to CPU ${p.server}; load generators and watcher clients to CPU ${p.clients} (taskset -a)`
      : 'one CPU: servers and clients share it',
  };
}

/** Runs fn `times` times and returns the median, min and max of its results. */
export function spread(values: number[]): { median: number; min: number; max: number } {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/**
 * Measurement windows (CLOCK_MONOTONIC, µs, the clock of V8's CPU profiles) per section, so
 * that a server's profile can be cut down to the time it was under measured load.
 */
export const profileWindows: Record<string, [number, number][]> = {};

export async function inWindow<T>(section: string, fn: () => Promise<T>): Promise<T> {
  const from = Number(process.hrtime.bigint() / 1000n);
  try {
    return await fn();
  } finally {
    (profileWindows[section] ??= []).push([from, Number(process.hrtime.bigint() / 1000n)]);
  }
}
