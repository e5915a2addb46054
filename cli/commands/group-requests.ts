/**
 * Builds SecretGroupService requests from parsed flags. Shared by the group commands and by
 * `sg group preview`, which sends the same requests as a dry run.
 */
import {
  AddFileRequest,
  CreateGroupRequest,
  ImportFormat,
  ImportVariablesRequest,
  LinkAddonRequest,
  UpdateGroupSettingsRequest,
} from '../../gen/light/secretgroups/v1/secret_group_service.js';
import { Restrictions } from '../../gen/light/secretgroups/v1/resources.js';
import { parseAssignments, parseGroupScope, parseGroupType, parseLinkKey, parseMode, parsePriority } from '../args.js';
import { usage } from '../errors.js';
import { readInput } from '../kit.js';

/** `--format`, or the file's extension: `.json` is JSON, anything else (and stdin) .env. */
export function importFormat(file: string, format: string | undefined, content?: string): ImportFormat {
  if (format === 'json') return ImportFormat.IMPORT_FORMAT_JSON;
  if (format === 'dotenv') return ImportFormat.IMPORT_FORMAT_DOTENV;
  if (format !== undefined) throw usage(`--format must be "dotenv" or "json", got ${JSON.stringify(format)}`);
  if (/\.json$/i.test(file)) return ImportFormat.IMPORT_FORMAT_JSON;
  // No .env line can start with "{", so such input (JSON piped on stdin, say) is JSON.
  return content !== undefined && content.trimStart().startsWith('{') ? ImportFormat.IMPORT_FORMAT_JSON : ImportFormat.IMPORT_FORMAT_DOTENV;
}

export interface GroupTarget {
  project: string;
  name: string;
  expectedRevision: number;
}

export interface SettingsFlags {
  type?: string;
  scope?: string;
  priority?: string;
  description?: string;
}

/** Restrictions from --workload/--tag; any of them restricts the group (their union reaches it). */
export function restrictionsFrom(workloads: string[] | undefined, tags: string[] | undefined): Restrictions | undefined {
  if (!workloads?.length && !tags?.length) return undefined;
  return Restrictions.fromPartial({ restricted: true, workloads: workloads ?? [], tags: tags ?? [] });
}

export function createRequest(
  project: string,
  name: string,
  flags: SettingsFlags & { workload?: string[]; tag?: string[]; vars?: string[]; varsFlag?: string },
): CreateGroupRequest {
  return CreateGroupRequest.fromPartial({
    project,
    name,
    description: flags.description ?? '',
    type: flags.type === undefined ? undefined : parseGroupType(flags.type),
    scope: flags.scope === undefined ? undefined : parseGroupScope(flags.scope),
    priority: flags.priority === undefined ? 0 : parsePriority(flags.priority),
    restrictions: restrictionsFrom(flags.workload, flags.tag),
    variables: parseAssignments(flags.varsFlag ?? '--var', flags.vars),
  });
}

export const hasSettings = (f: SettingsFlags) =>
  f.type !== undefined || f.scope !== undefined || f.priority !== undefined || f.description !== undefined;

export function settingsRequest(t: GroupTarget, f: SettingsFlags, restrictions?: Restrictions): UpdateGroupSettingsRequest {
  return UpdateGroupSettingsRequest.fromPartial({
    ...t,
    description: f.description,
    type: f.type === undefined ? undefined : parseGroupType(f.type),
    scope: f.scope === undefined ? undefined : parseGroupScope(f.scope),
    priority: f.priority === undefined ? undefined : parsePriority(f.priority),
    restrictions,
  });
}

export async function importRequest(t: GroupTarget, file: string, format: string | undefined, replace: boolean): Promise<ImportVariablesRequest> {
  importFormat(file, format); // a bad --format is refused before reading stdin
  const content = (await readInput(file, 'import')).toString('utf8');
  const fmt = importFormat(file, format, content);
  return ImportVariablesRequest.fromPartial({ ...t, format: fmt, content, replace });
}

export async function addFileRequest(t: GroupTarget, path: string, from: string, mode: string | undefined): Promise<AddFileRequest> {
  const content = await readInput(from, '--from');
  return AddFileRequest.fromPartial({
    ...t,
    file: { path, content, mode: mode === undefined ? 0 : parseMode(mode), size: content.length },
  });
}

export function linkRequest(t: GroupTarget, addon: string, keys: string[] | undefined): LinkAddonRequest {
  return LinkAddonRequest.fromPartial({ ...t, addon, keys: (keys ?? []).map(parseLinkKey) });
}
