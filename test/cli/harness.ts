/**
 * Running the real `sg` against a real server in tests: assertions for the output contract
 * (success: output on stdout, nothing on stderr; failure: one "sg: " line on stderr, nothing on
 * stdout, non-zero exit).
 */
import { expect } from 'vitest';
import { sg, type RunResult, type ServerProcess } from '../helpers/server-process.js';

export type Server = Pick<ServerProcess, 'addr' | 'adminToken'>;

export interface Runner {
  /** Runs `sg ARGS`, expects success, returns stdout. */
  ok(args: string[], opts?: { env?: NodeJS.ProcessEnv; input?: string }): Promise<string>;
  /** Runs `sg ARGS --json`, expects success, parses stdout as exactly one JSON value. */
  json<T = Record<string, unknown>>(args: string[], opts?: { env?: NodeJS.ProcessEnv; input?: string }): Promise<T>;
  /** Runs `sg ARGS`, expects the error contract, returns the error line without "sg: ". */
  fails(args: string[], opts?: { env?: NodeJS.ProcessEnv; input?: string; exitCode?: number }): Promise<string>;
  raw(args: string[], env?: NodeJS.ProcessEnv, input?: string): Promise<RunResult>;
}

export function runner(server: Server): Runner {
  const describe = (args: string[], r: RunResult) =>
    `sg ${args.join(' ')} -> exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  const r: Runner = {
    raw: (args, env = {}, input) => sg(server, args, env, input),
    async ok(args, opts = {}) {
      const res = await sg(server, args, opts.env ?? {}, opts.input);
      expect(res.code, describe(args, res)).toBe(0);
      expect(res.stderr, describe(args, res)).toBe('');
      return res.stdout;
    },
    async json<T>(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
      const out = await r.ok([...args, '--json'], opts);
      return JSON.parse(out) as T;
    },
    async fails(args, opts = {}) {
      const res = await sg(server, args, opts.env ?? {}, opts.input);
      expect(res.code, describe(args, res)).not.toBe(0);
      if (opts.exitCode !== undefined) expect(res.code, describe(args, res)).toBe(opts.exitCode);
      expect(res.stdout, describe(args, res)).toBe('');
      expect(res.stderr, describe(args, res)).toMatch(/^sg: [^\n]+\n$/);
      return res.stderr.slice('sg: '.length).trimEnd();
    },
  };
  return r;
}
