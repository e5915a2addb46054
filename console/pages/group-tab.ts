/**
 * What the group page hands each of its tabs (variables, files, addons, settings, history), and
 * the data a tab loads beside the group. Its own module so the tabs need not import the page
 * that imports them.
 */
import { call } from '../api.js';
import { ProjectServiceDefinition, type SecretGroup } from '../gen.js';
import { useLive } from '../hooks.js';
import type { Me } from '../session.js';

export interface GroupTabProps {
  project: string;
  group: SecretGroup;
  me: Me;
  writable: boolean;
  /** The project's change version: tabs refetch what they show when it moves. */
  version: number;
  /** A save returned the new group: show it at once (the poll would catch up anyway), and say so. */
  onSaved: (g: SecretGroup | undefined, what?: string) => void;
}

/** The project's workloads, keys only (for the restrictions a group may pick from). */
export function useWorkloads(project: string, version: number) {
  return useLive(async () => (await call(ProjectServiceDefinition, 'listWorkloads', { project, keysOnly: true })).workloads, [project, version], false);
}
