/** `sg audit`: the audit log, newest first (actor, action, target, keys, outcome — never values). */
import type { Command } from 'commander';
import { ListAuditEventsRequest, type AuditEvent, AccessServiceDefinition } from '../../../gen/light/secretgroups/v1/access_service.js';
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
  limit?: string;
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
        .option('--actor <actor>', 'only this actor, e.g. token:ab12cd34ef56 or workload:shop/api')
        .option('--action <action>', 'only this RPC, e.g. SetVariables, Resolve, GetGroup')
        .option('--since <when>', 'only events since a duration ago (30m, 24h, 7d) or an ISO time')
        .option('--limit <n>', 'at most N events (default 100, at most 1000)'),
    ),
    'the events',
  ).action((opts: Opts) => {
    const limit = opts.limit === undefined ? 100 : Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw usage('--limit must be an integer from 1 to 1000');
    const req = ListAuditEventsRequest.fromPartial({
      project: opts.project ?? '',
      actor: opts.actor ?? '',
      action: opts.action ?? '',
      sinceMs: opts.since ? parseSince(opts.since) : 0,
      limit,
    });
    return withSession(opts, async (s) => {
      const res = await s.call(AccessServiceDefinition, 'listAuditEvents', req);
      emit(opts, () => ({ events: res.events.map(auditJson) }), () => auditTable(res.events));
    });
  });
}
