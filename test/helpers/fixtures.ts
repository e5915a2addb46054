/** Builders for domain records, so tests state only what matters to them. */
import type { Addon, ProjectSnapshot, SecretGroup, Workload } from '../../server/domain/types.js';

export function workload(name: string, over: Partial<Workload> = {}): Workload {
  return {
    project: 'p',
    name,
    kind: 'service',
    tags: [],
    runtimeVariables: {},
    buildArguments: {},
    revision: 1,
    createdAt: 1,
    updatedAt: 1,
    updatedBy: 'test',
    ...over,
  };
}

export function group(name: string, over: Partial<SecretGroup> = {}): SecretGroup {
  return {
    project: 'p',
    name,
    description: '',
    type: 'config',
    scope: 'both',
    priority: 0,
    restrictions: { restricted: false, workloads: [], tags: [] },
    variables: {},
    files: [],
    addonLinks: [],
    revision: 1,
    createdAt: 1,
    updatedAt: 1,
    updatedBy: 'test',
    ...over,
  };
}

export function addon(name: string, over: Partial<Addon> = {}): Addon {
  return {
    project: 'p',
    name,
    type: 'postgresql',
    connectionDetails: {},
    revision: 1,
    createdAt: 1,
    updatedAt: 1,
    updatedBy: 'test',
    ...over,
  };
}

export function snapshot(parts: { workloads?: Workload[]; groups?: SecretGroup[]; addons?: Addon[] }): ProjectSnapshot {
  return {
    project: { name: 'p', createdAt: 1 },
    workloads: new Map((parts.workloads ?? []).map((w) => [w.name, w])),
    groups: new Map((parts.groups ?? []).map((g) => [g.name, g])),
    addons: new Map((parts.addons ?? []).map((a) => [a.name, a])),
  };
}
