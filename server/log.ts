/**
 * Structured logs (pino) to stderr. We never pass values to the logger; redaction is the
 * second line of defence for fields that could hold one by mistake.
 */
import pino from 'pino';
import { secretLogPaths } from './domain/secret-fields.js';

export type Logger = pino.Logger;

export const REDACT_PATHS = [
  'authorization',
  'token',
  'secret',
  '*.authorization',
  '*.token',
  // The fields that hold secret values (domain/secret-fields.ts) and a file's content.
  ...secretLogPaths(),
  '*.value',
  'request',
  'metadata',
];

export function createLogger(level = process.env.SG_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    { level, base: { svc: 'sg' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    pino.destination({ fd: 2, sync: false }),
  );
}
