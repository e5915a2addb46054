/** `sg audit`: the audit log, newest first (actor, action, target, keys, outcome — never values). */
import type { Command } from 'commander';
import { ListAuditEventsRequest, type AuditEvent, AccessServiceDefinition } from '../../gen/light/secretgroups/v1/access_service.js';
import { withSession } from '../client.js';
import { usage } from '../errors.js';
import { emit, withAddr, withJson } from '../kit.js';
import { isoTime, list, table } from '../output.js';

interface Opts {
  addr?: string;
  json?: boolean;
  project?: string;
  actor?: string;
  action?: string;
  since?: string;
  before?: string;
  limit?: string;
}

/** A cursor printed by a previous page ("<time ms>-<id>"), as opposed to a time. */
const CURSOR = /^\d{10,}-[0-9a-f]{1,24}$/;

/** --before: a cursor of a previous page, or a time (a duration ago or an ISO time). */
export function parseBefore(text: string, now = Date.now()): { beforeMs: number; cursor: string } {
  if (CURSOR.test(text)) return { beforeMs: 0, cursor: text };
  try {
    return { beforeMs: parseSince(text, now), cursor: '' };
  } catch {
    throw usage(`--before must be a cursor printed by a previous page, a duration such as 30m, 24h, 7d or an ISO time, got ${JSON.stringify(text)}`);
  }
}

/** "15m", "24h", "7d" ago, or an ISO time; returns epoch milliseconds. */
export function parseSince(text: string, now = Date.now()): number {
  const m = /^(\d+)([smhd])$/.exec(text);
  if (m) return now - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw usage(`--since must be a duration such as 30m, 24h, 7d or an ISO time, got ${JSON.stringify(text)}`);
  return t;
}

export function auditTable(events: AuditEvent[]): string {
  if (!events.length) return 'No audit events.\n';
  return table(
    ['TIME', 'ACTOR', 'ACTION', 'TARGET', 'KEYS', 'OUTCOME'],
    events.map((e) => [isoTime(e.timeMs) ?? '-', e.actor, e.action, e.target || '-', list(e.keys), e.detail ? `${e.outcome} (${e.detail})` : e.outcome]),
  );
}

const auditJson = (e: AuditEvent) => ({ ...e, time: isoTime(e.timeMs) });

export function registerAudit(program: Command): void {
  withJson(
    withAddr(
      program
        .command('audit')
        .description('audit events, newest first: who did what to which keys, and the outcome (never values)')
        .option('--project <project>', 'only this project (required for tokens bound to projects)')
        .option('--actor <actor>', 'only this actor, e.g. token:ab12cd34ef56 (a token id matches with or without its name) or workload:shop/api')
        .option('--action <action>', 'only this RPC, e.g. SetVariables, Resolve, GetGroup')
        .option('--since <when>', 'only events since a duration ago (30m, 24h, 7d) or an ISO time')
        .option('--before <when|cursor>', 'only older events: before a duration ago or an ISO time, or after the page that printed this cursor')
        .option('--limit <n>', 'at most N events (default 100, at most 1000)')
        .addHelpText('after', '\nExamples:\n  sg audit --project shop --action SetVariables --limit 20\n  sg audit --actor token:ab12cd34ef56 --before 2024-05-01T12:00:00Z'),
    ),
    'the events, and nextCursor (empty on the last page)',
  ).action((opts: Opts) => {
    const limit = opts.limit === undefined ? 100 : Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw usage('--limit must be an integer from 1 to 1000');
    const req = ListAuditEventsRequest.fromPartial({
      project: opts.project ?? '',
      actor: opts.actor ?? '',
      action: opts.action ?? '',
      sinceMs: opts.since ? parseSince(opts.since) : 0,
      ...(opts.before ? parseBefore(opts.before) : {}),
      limit,
    });
    return withSession(opts, async (s) => {
      const res = await s.call(AccessServiceDefinition, 'listAuditEvents', req);
      emit(
        opts,
        () => ({ events: res.events.map(auditJson), nextCursor: res.nextCursor }),
        () => auditTable(res.events) + (res.nextCursor ? `Older events: the same command with --before ${res.nextCursor}\n` : ''),
      );
    });
  });
}
