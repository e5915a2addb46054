import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Supervisor, type ChangeAction } from '../../agent/supervisor/supervisor.js';
import { exitCodeOf } from '../../agent/supervisor/child.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-sup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined };

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

function supervisor(script: string, opts: { env?: () => Record<string, string>; onChange?: ChangeAction; killTimeoutMs?: number; debounceMs?: number; fp?: () => string } = {}) {
  const env = opts.env ?? (() => ({ PATH: process.env.PATH! }));
  return new Supervisor({
    command: 'bash',
    args: ['-c', script],
    environment: env,
    fingerprint: opts.fp ?? (() => JSON.stringify(env())),
    killSignal: 'SIGTERM',
    killTimeoutMs: opts.killTimeoutMs ?? 5000,
    debounceMs: opts.debounceMs ?? 50,
    splayMs: 0,
    onChange: opts.onChange ?? { kind: 'none' },
    log: quiet,
  });
}

describe('supervisor with real child processes', () => {
  it.each([
    ['exit 0', 'exit 0', 0],
    ['exit 7', 'exit 7', 7],
    ['death by SIGKILL', 'kill -KILL $$', 137],
    ['death by SIGTERM', 'kill -TERM $$', 143],
  ])('passes the exit status through: %s', async (_n, script, code) => {
    const s = supervisor(script);
    await s.start();
    expect(await s.done).toBe(code);
  });

  it('maps signals to 128+n', () => {
    expect(exitCodeOf(null, 'SIGKILL')).toBe(137);
    expect(exitCodeOf(null, 'SIGTERM')).toBe(143);
    expect(exitCodeOf(3, null)).toBe(3);
  });

  it('a SIGTERM that arrives while a restart is starting the new child reaches that child', async () => {
    let release!: () => void;
    let starting!: () => void;
    const inBeforeStart = new Promise<void>((r) => (starting = r));
    let calls = 0;
    const s = new Supervisor({
      command: 'bash',
      args: ['-c', 'trap "exit 5" TERM; sleep 60 & wait $!'],
      environment: () => ({ PATH: process.env.PATH! }),
      fingerprint: () => 'fp',
      // The second start (the restart) waits until the test has sent SIGTERM.
      beforeStart: () => (++calls === 2 ? (starting(), new Promise<void>((r) => (release = r))) : Promise.resolve()),
      killSignal: 'SIGTERM',
      killTimeoutMs: 5000,
      debounceMs: 10,
      splayMs: 0,
      onChange: { kind: 'none' },
      log: quiet,
    });
    await s.start();
    await new Promise((r) => setTimeout(r, 200)); // bash has set its trap
    s.requestRestart('test');
    await inBeforeStart; // the old child is gone, the new one not yet started
    s.forward('SIGTERM');
    release();
    const code = await Promise.race([s.done, new Promise((r) => setTimeout(() => r('still running'), 8000))]);
    expect(code).not.toBe('still running');
  });

  it('forwards a signal; the child shuts down gracefully and its code is the result', async () => {
    const out = join(dir, 'graceful');
    const s = supervisor(`trap 'echo graceful >> ${out}; exit 42' TERM; echo up >> ${out}; sleep 60 & wait $!`);
    await s.start();
    await until(() => lines(out).includes('up'), 'child start');
    s.forward('SIGTERM');
    expect(await s.done).toBe(42);
    expect(lines(out)).toEqual(['up', 'graceful']);
  });

  it('reports 127 when the command does not exist', async () => {
    const s = new Supervisor({
      command: join(dir, 'no-such-command'),
      args: [],
      environment: () => ({}),
      fingerprint: () => '',
      killSignal: 'SIGTERM',
      killTimeoutMs: 1000,
      debounceMs: 0,
      splayMs: 0,
      onChange: { kind: 'none' },
      log: quiet,
    });
    const write = process.stderr.write;
    process.stderr.write = () => true;
    try {
      await s.start();
    } finally {
      process.stderr.write = write;
    }
    expect(await s.done).toBe(127);
  });

  it('restarts gracefully with the new environment on request', async () => {
    const out = join(dir, 'restart');
    let value = 'one';
    const s = supervisor(`trap 'echo "stop $V" >> ${out}; exit 0' TERM; echo "start $V" >> ${out}; sleep 60 & wait $!`, {
      env: () => ({ PATH: process.env.PATH!, V: value }),
    });
    await s.start();
    await until(() => lines(out).includes('start one'), 'first start');
    value = 'two';
    s.requestRestart('test');
    await until(() => lines(out).includes('start two'), 'second start');
    expect(lines(out)).toEqual(['start one', 'stop one', 'start two']);
    s.forward('SIGTERM');
    expect(await s.done).toBe(0);
  });

  it('sends SIGKILL to the process group after the kill timeout', async () => {
    const out = join(dir, 'stubborn');
    let n = 0;
    const s = supervisor(`trap '' TERM; echo "start $N" >> ${out}; while :; do sleep 0.1; done`, {
      env: () => ({ PATH: process.env.PATH!, N: String(n) }),
      killTimeoutMs: 300,
    });
    await s.start();
    await until(() => lines(out).includes('start 0'), 'first start');
    n = 1;
    s.requestRestart('test');
    await until(() => lines(out).includes('start 1'), 'restart after SIGKILL');
    await s.stop();
    expect(await s.done).toBe(137);
  });

  it('restart-on-change: one restart per real change after the debounce, none on a no-op', async () => {
    const out = join(dir, 'debounce');
    let v = 'a';
    const s = supervisor(`trap 'exit 0' TERM; echo "start $V" >> ${out}; sleep 60 & wait $!`, {
      env: () => ({ PATH: process.env.PATH!, V: v }),
      onChange: { kind: 'restart' },
      debounceMs: 200,
    });
    await s.start();
    await until(() => lines(out).length === 1, 'first start');
    // A burst of changes: one restart with the last value.
    for (const x of ['b', 'c', 'd']) {
      v = x;
      s.changed();
    }
    await until(() => lines(out).length === 2, 'restart after burst');
    expect(lines(out)).toEqual(['start a', 'start d']);
    // No-op notifications: same content, and a change that reverts within the debounce.
    s.changed();
    v = 'e';
    s.changed();
    v = 'd';
    s.changed();
    await new Promise((r) => setTimeout(r, 800));
    expect(lines(out)).toEqual(['start a', 'start d']);
    expect(s.starts).toBe(2);
    s.forward('SIGTERM');
    expect(await s.done).toBe(0);
  });

  it('on-change-signal: signals the child instead of restarting it', async () => {
    const out = join(dir, 'hup');
    let v = 'a';
    const s = supervisor(`trap 'echo hup >> ${out}' HUP; trap 'exit 0' TERM; echo start >> ${out}; while :; do sleep 0.05; done`, {
      env: () => ({ PATH: process.env.PATH!, V: v }),
      onChange: { kind: 'signal', signal: 'SIGHUP' },
      debounceMs: 50,
    });
    await s.start();
    await until(() => lines(out).includes('start'), 'start');
    v = 'b';
    s.changed();
    await until(() => lines(out).includes('hup'), 'HUP');
    s.changed();
    await new Promise((r) => setTimeout(r, 300));
    expect(lines(out)).toEqual(['start', 'hup']);
    expect(s.starts).toBe(1);
    s.forward('SIGTERM');
    expect(await s.done).toBe(0);
  });
});
