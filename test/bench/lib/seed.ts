/**
 * Fixtures of the benchmark, created through the public API like an operator would.
 * Deterministic (a seeded generator), so every run resolves the same data.
 */
import type { Clients } from '../../../client/connection.js';
import { GroupType, Scope, WorkloadKind } from '../../../gen/secretgroups/v1/resources.js';
import { api } from './api.js';

/** Small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, w = 3) => String(n).padStart(w, '0');

function value(r: () => number, len: number): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/';
  let s = '';
  for (let i = 0; i < len; i++) s += chars[Math.floor(r() * chars.length)];
  return s;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export interface ResolveFixture {
  project: string;
  workloads: string[];
  groups: number;
  variablesPerGroup: number;
  tags: number;
}

/**
 * The Resolve project: 200 groups × 50 variables and 500 workloads with mixed restrictions
 * and tags. Groups 0–19 are unrestricted; 20–139 are restricted to one or two of 40 tags;
 * 140–199 to 8 named workloads. Scopes cycle BOTH / RUNTIME / BUILD, priorities spread over
 * 0–100 (so some keys conflict at equal priority), types alternate SECRET / CONFIG. Each group
 * has 40 keys of its own and 10 drawn from 50 keys that many groups share (overrides).
 * Workloads carry three tags each and a couple of direct variables.
 */
export async function seedResolveProject(c: Clients, project = 'bench', groups = 200, variablesPerGroup = 50, workloadCount = 500): Promise<ResolveFixture> {
  const a = api(c);
  const r = rng(42);
  const tags = 40;
  await a.createProject(project);
  const workloads = Array.from({ length: workloadCount }, (_, i) => `w${pad(i)}`);
  await pool(workloads, 8, (name, i) =>
    a.createWorkload({
      project,
      name,
      kind: i % 5 === 0 ? WorkloadKind.WORKLOAD_KIND_JOB : WorkloadKind.WORKLOAD_KIND_SERVICE,
      tags: [...new Set([0, 1, 2].map(() => `t${pad(Math.floor(r() * tags), 2)}`))],
      runtimeVariables: { PORT: String(3000 + (i % 100)), SERVICE_NAME: name },
      buildArguments: { NODE_ENV: 'production' },
    }),
  );
  const scopes = [Scope.SCOPE_BOTH, Scope.SCOPE_RUNTIME, Scope.SCOPE_BUILD];
  const specs = Array.from({ length: groups }, (_, g) => {
    const variables: Record<string, string> = {};
    const own = Math.round(variablesPerGroup * 0.8);
    for (let k = 0; k < own; k++) variables[`G${pad(g)}_K${pad(k, 2)}`] = value(r, 24 + Math.floor(r() * 24));
    for (let k = own; k < variablesPerGroup; k++) variables[`SHARED_${pad(Math.floor(r() * 50), 2)}`] = value(r, 32);
    while (Object.keys(variables).length < variablesPerGroup) variables[`G${pad(g)}_X${pad(Object.keys(variables).length, 2)}`] = value(r, 32);
    let restrictions = { restricted: false, workloads: [] as string[], tags: [] as string[] };
    if (g >= 20 && g < 140) {
      const t = [`t${pad(g % tags, 2)}`];
      if (g % 4 === 0) t.push(`t${pad((g * 7) % tags, 2)}`);
      restrictions = { restricted: true, workloads: [], tags: [...new Set(t)] };
    } else if (g >= 140) {
      const names = new Set<string>();
      while (names.size < 8) names.add(workloads[Math.floor(r() * workloads.length)]!);
      restrictions = { restricted: true, workloads: [...names], tags: [] };
    }
    return {
      project,
      name: `g${pad(g)}`,
      description: `benchmark group ${g}`,
      type: g % 2 ? GroupType.GROUP_TYPE_CONFIG : GroupType.GROUP_TYPE_SECRET,
      scope: scopes[g % 3]!,
      priority: (g * 37) % 101,
      restrictions,
      variables,
    };
  });
  await pool(specs, 4, (spec) => a.createGroup(spec));
  return { project, workloads, groups, variablesPerGroup, tags };
}

export interface FanoutFixture {
  project: string;
  workloads: string[];
  group: string;
}

/**
 * The fan-out project: `workloads` workloads (each with one of 10 tags), one unrestricted
 * group `shared` (20 variables) that the benchmark updates, and 10 tag-restricted groups
 * (10 variables each) so that resolutions differ from workload to workload.
 */
export async function seedFanoutProject(c: Clients, project = 'fan', workloadCount = 500): Promise<FanoutFixture> {
  const a = api(c);
  const r = rng(7);
  await a.createProject(project);
  const workloads = Array.from({ length: workloadCount }, (_, i) => `f${pad(i)}`);
  await pool(workloads, 8, (name, i) => a.createWorkload({ project, name, tags: [`t${i % 10}`], runtimeVariables: { SERVICE_NAME: name } }));
  const shared: Record<string, string> = { SEQ: '0' };
  for (let k = 0; k < 19; k++) shared[`SHARED_${pad(k, 2)}`] = value(r, 32);
  await a.createGroup({ project, name: 'shared', priority: 10, variables: shared });
  for (let t = 0; t < 10; t++) {
    const variables: Record<string, string> = {};
    for (let k = 0; k < 10; k++) variables[`T${t}_K${k}`] = value(r, 32);
    await a.createGroup({ project, name: `tag-${t}`, priority: 20, restrictions: { restricted: true, workloads: [], tags: [`t${t}`] }, variables });
  }
  return { project, workloads, group: 'shared' };
}

/** A small project for the write benchmark: 8 groups × 20 variables, 20 workloads. */
export async function seedWriteProject(c: Clients, project = 'writes'): Promise<{ project: string; groups: string[] }> {
  const a = api(c);
  const r = rng(9);
  await a.createProject(project);
  await pool(Array.from({ length: 20 }, (_, i) => `w${i}`), 4, (name) => a.createWorkload({ project, name }));
  const groups = Array.from({ length: 8 }, (_, i) => `g${i}`);
  await pool(groups, 4, (name) => {
    const variables: Record<string, string> = {};
    for (let k = 0; k < 20; k++) variables[`K${k}`] = value(r, 32);
    return a.createGroup({ project, name, variables });
  });
  return { project, groups };
}

export { value as randomValue };
