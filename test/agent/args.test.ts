import { describe, expect, it } from 'vitest';
import { UsageError, helpText, parseArgs, parseDuration, parseSignal, COMMANDS } from '../../agent/cli/args.js';
import { exponentialBackoff } from '../../client/backoff.js';
import { childEnvironment, contentFingerprint } from '../../agent/sinks/env.js';
import { CliError, EXIT } from '../../client/exit-codes.js';
import * as sg from '../../cli/errors.js';

function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = parseArgs(argv, env);
  if (r.kind !== 'run') throw new Error('expected a command');
  return r.parsed;
}

describe('command line', () => {
  it('requires "--" before the command of exec', () => {
    expect(() => parseArgs(['exec', '--project', 'p', 'env'], {})).toThrow(/missing "--"/);
    expect(() => parseArgs(['exec', '--project', 'p'], {})).toThrow(/missing "--"/);
    expect(() => parseArgs(['exec', '--'], {})).toThrow(/no command/);
  });

  it('keeps everything after "--" verbatim, options included', () => {
    expect(run(['exec', '--', 'node', '--inspect', '--', 'x']).rest).toEqual(['node', '--inspect', '--', 'x']);
  });

  it('takes flags over environment over defaults', () => {
    expect(run(['write', '--out', 'f']).values.addr).toBe('127.0.0.1:50051');
    expect(run(['write', '--out', 'f'], { SG_ADDR: 'env:1', SG_PROJECT: 'pe' }).values).toMatchObject({ addr: 'env:1', project: 'pe' });
    expect(run(['write', '--out', 'f', '--addr=flag:2'], { SG_ADDR: 'env:1' }).values.addr).toBe('flag:2');
  });

  it('takes --strict (or SG_STRICT=true) on every command', () => {
    for (const c of ['write', 'build-args'] as const) {
      expect(run([c, '--strict']).values.strict).toBe(true);
      expect(run([c], { SG_STRICT: 'true' }).values.strict).toBe(true);
      expect(run([c]).values.strict).toBeUndefined();
    }
    expect(run(['exec', '--strict', '--', 'x']).values.strict).toBe(true);
  });

  it('parses durations and signals', () => {
    expect(parseDuration('500ms', 'x')).toBe(500);
    expect(parseDuration('2s', 'x')).toBe(2000);
    expect(parseDuration('24h', 'x')).toBe(86_400_000);
    expect(parseDuration('0', 'x')).toBe(0);
    expect(() => parseDuration('soon', '--splay')).toThrow(UsageError);
    expect(parseSignal('hup', 'x')).toBe('SIGHUP');
    expect(parseSignal('SIGUSR2', 'x')).toBe('SIGUSR2');
    expect(() => parseSignal('NOPE', '--kill-signal')).toThrow(/unknown signal/);
    const v = run(['exec', '--kill-timeout', '3s', '--on-change-signal', 'HUP', '--', 'x']).values;
    expect(v).toMatchObject({ 'kill-timeout': 3000, 'on-change-signal': 'SIGHUP', 'kill-signal': 'SIGTERM', 'restart-debounce': 2000, 'max-stale': 86_400_000 });
  });

  it('rejects unknown options and bad choices', () => {
    expect(() => parseArgs(['write', '--bogus'], {})).toThrow(/unknown option --bogus/);
    expect(() => parseArgs(['write', '--format', 'yaml'], {})).toThrow(/must be one of/);
    expect(() => parseArgs(['nope'], {})).toThrow(/unknown command/);
  });

  it('documents every option in the help text', () => {
    for (const c of COMMANDS) {
      const text = helpText(c);
      for (const o of c.options) expect(text).toContain(`--${o.name}`);
    }
  });
});

describe('retry policy', () => {
  it('grows exponentially up to the cap, with the jittered part within bounds', () => {
    const fixed = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0 });
    expect([1, 2, 3, 4, 5, 6].map((a) => fixed(a).delayMs)).toEqual([50, 100, 200, 400, 500, 500]);
    const top = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999999 });
    expect(top(3).delayMs).toBe(400);
    const p = exponentialBackoff({ initialMs: 100, maxMs: 1000 });
    for (let i = 0; i < 100; i++) {
      const d = p(3).delayMs;
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });

  it('gives up after maxAttempts when asked to', () => {
    const p = exponentialBackoff({ maxAttempts: 2 });
    expect(p(2).retry).toBe(true);
    expect(p(3).retry).toBe(false);
  });
});

describe('child environment', () => {
  it('lets resolved variables override inherited ones and never passes SG_TOKEN on', () => {
    const env = childEnvironment({ PATH: '/bin', A: 'inherited', SG_TOKEN: 'secret', KEEP: '1' }, { A: 'resolved' });
    expect(env).toEqual({ PATH: '/bin', A: 'resolved', KEEP: '1' });
  });

  it('starts from PATH and HOME only when pristine', () => {
    expect(childEnvironment({ PATH: '/bin', HOME: '/h', OTHER: 'x' }, { A: '1' }, { pristine: true })).toEqual({ PATH: '/bin', HOME: '/h', A: '1' });
  });

  it('fingerprints content, not order', () => {
    const f = (v: Record<string, string>) => contentFingerprint({ variables: v, files: [] });
    expect(f({ A: '1', B: '2' })).toBe(f({ B: '2', A: '1' }));
    expect(f({ A: '1' })).not.toBe(f({ A: '2' }));
    expect(f({ A: 'b', AB: '' })).not.toBe(f({ AA: 'b', B: '' }));
  });
});

describe('exit statuses', () => {
  it('sg and sg-agent share one table and one CliError; a refused token is 77 for both', () => {
    expect(sg.EXIT).toBe(EXIT);
    expect(sg.CliError).toBe(CliError);
    expect(EXIT.auth).toBe(77);
    // Within one command no two meanings share a number (3 is sg's unreachable, sg-agent's incomplete write).
    const sgCodes = [EXIT.ok, EXIT.server, EXIT.usage, EXIT.unreachable, EXIT.auth];
    const agentCodes = [EXIT.ok, EXIT.server, EXIT.usage, EXIT.incomplete, EXIT.auth];
    expect(new Set(sgCodes).size).toBe(sgCodes.length);
    expect(new Set(agentCodes).size).toBe(agentCodes.length);
  });
});
