/**
 * The agent's logger: pino, JSON lines on stderr, loaded only when something is actually logged
 * at the configured level (the start-up path of `exec` logs nothing at info, so it never pays
 * for pino). Callers pass keys, counts, paths and codes — never a value; redaction of the usual
 * value-carrying field names is a second line of defence.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type Level = (typeof LEVELS)[number];
const RANK: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

export const REDACT_PATHS = [
  'value',
  'values',
  'variables',
  'env',
  'environment',
  'content',
  'token',
  'resolution',
  '*.value',
  '*.values',
  '*.variables',
  '*.env',
  '*.content',
  '*.token',
  '*.resolution',
];

export type Fields = Record<string, unknown>;

export class AgentLog {
  private pino: Logger | undefined;
  private readonly rank: number;

  constructor(readonly level: Level = 'info') {
    this.rank = RANK[level];
  }

  private logger(): Logger {
    if (!this.pino) {
      const pino = createRequire(import.meta.url)('pino') as typeof import('pino');
      const factory = (pino as unknown as { default?: typeof pino }).default ?? pino;
      this.pino = factory(
        { name: 'sg-agent', level: this.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } },
        // Synchronous: lines must be out before process.exit().
        factory.destination({ dest: 2, sync: true }),
      );
    }
    return this.pino;
  }

  enabled(level: Exclude<Level, 'silent' | 'fatal'>): boolean {
    return RANK[level] >= this.rank;
  }

  private emit(level: Exclude<Level, 'silent' | 'fatal'>, msg: string, fields?: Fields): void {
    if (!this.enabled(level)) return;
    if (fields) this.logger()[level](fields, msg);
    else this.logger()[level](msg);
  }

  trace(msg: string, fields?: Fields): void {
    this.emit('trace', msg, fields);
  }
  debug(msg: string, fields?: Fields): void {
    this.emit('debug', msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    this.emit('info', msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    this.emit('warn', msg, fields);
  }
  error(msg: string, fields?: Fields): void {
    this.emit('error', msg, fields);
  }
}
