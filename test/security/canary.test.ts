/**
 * Plants a canary in every sealed place (variable, build argument, runtime variable, addon
 * detail, file content, history) and searches the raw SQLite files for it. A control run
 * through the plain store proves the search would find a leak.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, unary } from '../../client/connection.js';
import { ListAuditEventsRequest, type ListAuditEventsResponse } from '../../gen/secretgroups/v1/access_service.js';
import { SG_AGENT, runNode, sg, startServerProcess, type RunResult, type ServerProcess } from '../helpers/server-process.js';
import type { GroupHistoryEntry, SecretGroup } from '../../server/domain/types.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import type { Store } from '../../server/store/store.js';
import { addon, group, workload } from '../helpers/fixtures.js';
import { leaks, rawDatabaseBytes, sealedSqlite, type SealedSqlite } from './helpers.js';

const CANARY = 'CANARY-q7Zx3-do-not-store-in-clear-91f2';

function hist(g: SecretGroup, action: string, deleted = false): GroupHistoryEntry {
  return {
    project: g.project,
    name: g.name,
    revision: g.revision,
    time: 1,
    actor: 't',
    action,
    changedKeys: Object.keys(g.variables),
    group: deleted ? null : g,
  };
}

async function plantCanaries(store: Store, canary: string): Promise<void> {
  await store.createProject({ name: 'p', createdAt: 1 });
  await store.createRecord('workload', workload('w', { runtimeVariables: { RUN: `${canary}-run` }, buildArguments: { BUILD: `${canary}-build` } }));
  await store.createRecord('addon', addon('db', { connectionDetails: { password: `${canary}-addon` } }));
  const g1 = group('g', {
    type: 'secret',
    variables: { SECRET: `${canary}-var` },
    files: [{ path: '/etc/canary.txt', content: Buffer.from(`${canary}-file`), mode: 0o600 }],
  });
  await store.createRecord('group', g1, hist(g1, 'CreateGroup'));
  const g2 = { ...g1, revision: 2, variables: { SECRET: `${canary}-var2`, OTHER: `${canary}-hist` } };
  await store.updateRecord('group', g2, hist(g2, 'SetVariables'));
  // A deleted group's history keeps its values: they must be sealed too.
  const d = group('gone', { variables: { OLD: `${canary}-deleted` } });
  await store.createRecord('group', d, hist(d, 'CreateGroup'));
  await store.deleteRecord('group', 'p', 'gone', 1, hist({ ...d, revision: 2 }, 'DeleteGroup', true));
}

describe('no plaintext at rest', () => {
  let env: SealedSqlite | undefined;
  afterEach(async () => {
    await env?.cleanup();
    env = undefined;
  });

  it('control: the plain store leaves the canary on disk, so the search works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-plain-'));
    const plain = new SqliteStore(join(dir, 'sg.db'));
    await plain.init();
    await plantCanaries(plain, CANARY);
    const raw = rawDatabaseBytes(dir);
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
    expect(leaks(raw, CANARY).length).toBeGreaterThan(0);
    // The file content is stored base64-encoded by the codec: the base64 needles must catch it.
    expect(raw.includes(Buffer.from(`${CANARY}-file`))).toBe(false);
    expect(leaks(raw, `${CANARY}-file`).length).toBeGreaterThan(0);
  });

  it('the sealed store leaves no canary in the SQLite file or its WAL, and reads every value back', async () => {
    env = await sealedSqlite();
    await plantCanaries(env.store, CANARY);

    // With the writer still open the data sits in the WAL; check then, and after a checkpoint.
    expect(leaks(rawDatabaseBytes(env.dir), CANARY)).toEqual([]);
    for (const part of ['run', 'build', 'addon', 'file', 'var', 'var2', 'hist', 'deleted']) {
      expect(leaks(rawDatabaseBytes(env.dir), `${CANARY}-${part}`)).toEqual([]);
    }

    const s = env.store;
    expect((await s.getRecord('workload', 'p', 'w'))!.runtimeVariables).toEqual({ RUN: `${CANARY}-run` });
    expect((await s.getRecord('workload', 'p', 'w'))!.buildArguments).toEqual({ BUILD: `${CANARY}-build` });
    expect((await s.getRecord('addon', 'p', 'db'))!.connectionDetails).toEqual({ password: `${CANARY}-addon` });
    const g = (await s.getRecord('group', 'p', 'g'))!;
    expect(g.variables).toEqual({ SECRET: `${CANARY}-var2`, OTHER: `${CANARY}-hist` });
    expect(Buffer.from(g.files[0]!.content).toString()).toBe(`${CANARY}-file`);
    const h = await s.listGroupHistory('p', 'g');
    expect(h[0]!.group!.variables).toEqual({ SECRET: `${CANARY}-var` });
    expect(Buffer.from(h[0]!.group!.files[0]!.content).toString()).toBe(`${CANARY}-file`);
    expect((await s.listGroupHistory('p', 'gone'))[0]!.group!.variables).toEqual({ OLD: `${CANARY}-deleted` });
    const snap = (await s.loadProject('p'))!;
    expect(snap.addons.get('db')!.connectionDetails.password).toBe(`${CANARY}-addon`);

    await s.close();
    // Closing checkpoints the WAL into the main file: search once more.
    expect(leaks(rawDatabaseBytes(env.dir), CANARY)).toEqual([]);
  });

  it('keys and file paths stay readable in the raw store; values are sg1 ciphertexts', async () => {
    env = await sealedSqlite();
    await plantCanaries(env.store, CANARY);
    const raw = rawDatabaseBytes(env.dir).toString('latin1');
    for (const name of ['SECRET', 'OTHER', 'RUN', 'BUILD', 'password', '/etc/canary.txt']) expect(raw).toContain(name);
    expect(raw).toMatch(/"SECRET":"sg1:[A-Za-z0-9_-]+:[A-Za-z0-9+/=]+"/);
  });

  it('the same value sealed twice gives different ciphertexts (random nonces)', async () => {
    env = await sealedSqlite();
    await env.store.createProject({ name: 'p', createdAt: 1 });
    await env.store.createRecord('group', group('g', { variables: { A: 'same', B: 'same' } }));
    const inner = new SqliteStore(env.file);
    const doc = (await inner.getRecord('group', 'p', 'g'))!;
    await inner.close();
    expect(doc.variables.A).not.toBe(doc.variables.B);
  });
});

// -----------------------------------------------------------------------------------------
// Output canary: values planted through the real CLI must never appear in the server's log at
// trace level, the CLI's output where values were not asked for, the agent's log at trace
// level, error messages or audit records.

const OUT = 'OUTCANARY-Vb8q2-never-print';

describe('no canary in output, errors or audit (real server, CLI and agent at trace level)', () => {
  let server: ServerProcess;
  let viewerToken: string;
  const ran: { args: string[]; as: string; r: RunResult; valuesAsked: boolean }[] = [];

  const sgAs = async (token: string, args: string[], input?: string) => sg(server, args, { SG_TOKEN: token }, input);
  const ok = async (args: string[], input?: string) => {
    const r = await sg(server, args, {}, input);
    if (r.code !== 0) throw new Error(`sg ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r;
  };

  beforeAll(async () => {
    server = await startServerProcess({ env: { SG_LOG_LEVEL: 'trace' } });
    await ok(['project', 'create', 'shop']);
    await ok(['workload', 'create', 'shop', 'api', '--var', `W_SECRET=${OUT}-workload`]);
    await ok(['addon', 'create', 'shop', 'db', '--type', 'postgresql', '--details-file', '-'], JSON.stringify({ password: `${OUT}-addon` }));
    await ok(['group', 'create', 'shop', 'creds', '--type', 'secret']);
    await ok(['group', 'import', 'shop', 'creds', '-', '--format', 'json'], JSON.stringify({ APP_SECRET: `${OUT}-group` }));
    await ok(['group', 'file', 'add', 'shop', 'creds', '/etc/app/key.pem', '--from', '-'], `${OUT}-file\n`);
    await ok(['group', 'link', 'shop', 'creds', 'db']);
    await ok(['group', 'create', 'shop', 'conf', '--type', 'config', '--var', 'LOG=debug']);
    viewerToken = (await ok(['token', 'create', '--role', 'viewer'])).stdout.trim();
  }, 60_000);
  afterAll(() => server?.cleanup());

  const READS: { args: string[]; values: boolean }[] = [
    { args: ['project', 'list'], values: false },
    { args: ['project', 'get', 'shop'], values: false },
    { args: ['workload', 'list', 'shop'], values: false },
    { args: ['workload', 'get', 'shop', 'api'], values: false },
    { args: ['addon', 'list', 'shop'], values: false },
    { args: ['addon', 'get', 'shop', 'db'], values: false },
    { args: ['group', 'list', 'shop'], values: false },
    { args: ['group', 'get', 'shop', 'creds'], values: false },
    { args: ['group', 'history', 'shop', 'creds'], values: false },
    { args: ['resolve', 'shop', 'api'], values: false },
    { args: ['resolve', 'shop', 'api', '--explain'], values: false },
    { args: ['explain', 'shop', 'api'], values: false },
    { args: ['token', 'list'], values: false },
    { args: ['role', 'list'], values: false },
    { args: ['whoami'], values: false },
  ];
  /** Where human output prints values given --show-values (masked without it). */
  const EXPLICIT = new Set(['workload get', 'addon get', 'group get', 'resolve']);
  /** Where --json asks for values: the machine form carries every value the token may read (docs/architecture.md, "Values in client output"). */
  const JSON_VALUES = new Set(['workload list', 'workload get', 'addon list', 'addon get', 'group list', 'group get', 'group history', 'resolve']);

  it('every read command, human and --json, as admin: values only where asked for', async () => {
    for (const { args } of READS) {
      const cmd = args[0] === 'resolve' ? 'resolve' : args.slice(0, 2).join(' ');
      for (const variant of [[], ['--json']]) {
        const full = [...args, ...variant];
        const r = await ok(full);
        ran.push({ args: full, as: 'admin', r, valuesAsked: variant.length > 0 && JSON_VALUES.has(cmd) });
      }
      if (EXPLICIT.has(cmd) && !args.includes('--explain')) {
        const full = [...args, '--show-values'];
        ran.push({ args: full, as: 'admin', r: await ok(full), valuesAsked: true });
      }
    }
    const leaks = ran.filter((x) => x.r.stderr.includes(OUT) || (!x.valuesAsked && x.r.stdout.includes(OUT))).map((x) => `sg ${x.args.join(' ')}`);
    expect(leaks, 'commands that printed a value they were not asked for').toEqual([]);
    // The search works: where values were asked for, they are there.
    expect(ran.filter((x) => x.valuesAsked).every((x) => x.r.stdout.includes(OUT))).toBe(true);
  }, 120_000);

  it('a viewer never sees a secret value, even asking for values', async () => {
    for (const args of [
      ['group', 'get', 'shop', 'creds', '--show-values'],
      ['group', 'get', 'shop', 'creds', '--json'],
      ['group', 'history', 'shop', 'creds', '--json'],
      ['workload', 'get', 'shop', 'api', '--show-values', '--json'],
      ['workload', 'list', 'shop', '--json'],
      ['addon', 'get', 'shop', 'db', '--show-values', '--json'],
      ['addon', 'list', 'shop', '--json'],
      ['explain', 'shop', 'api', '--json'],
      ['resolve', 'shop', 'api', '--json'],
    ]) {
      const r = await sgAs(viewerToken, args);
      expect(`${r.stdout}${r.stderr}`, `viewer: sg ${args.join(' ')}`).not.toContain(OUT);
    }
  });

  it('error messages never echo a value', async () => {
    const attempts: [string[], string | undefined][] = [
      [['group', 'import', 'shop', 'creds', '-', '--format', 'dotenv'], `GOOD=1\nthis line has no equals ${OUT}-bad-line\n`],
      [['group', 'import', 'shop', 'creds', '-', '--format', 'dotenv'], `Q="${OUT}-never-closed\n`],
      [['group', 'import', 'shop', 'creds', '-', '--format', 'json'], `{"A": "${OUT}-json", "B": 5}`],
      [['group', 'import', 'shop', 'creds', '-', '--format', 'json'], `{"A": "${OUT}-json",`],
      [['group', 'import', 'shop', 'creds', '-', '--format', 'json'], JSON.stringify({ BIG: `${OUT}-big${'x'.repeat(70_000)}` })],
      [['group', 'set', 'shop', 'creds', `T=${OUT}-\${MISSING}`], undefined],
      [['group', 'set', 'shop', 'creds', `bad-key=${OUT}-badkey`], undefined],
      [['group', 'set', 'shop', 'nosuch', `K=${OUT}-nosuch`], undefined],
      [['addon', 'update', 'shop', 'db', '--details-file', '-'], JSON.stringify({ 'bad key!': `${OUT}-detail` })],
      [['workload', 'update', 'shop', 'api', '--var', `1BAD=${OUT}-wvar`], undefined],
    ];
    for (const [args, input] of attempts) {
      const r = await sg(server, args, {}, input);
      expect(r.code, `sg ${args.join(' ')} should fail`).not.toBe(0);
      expect(r.stderr, `sg ${args.join(' ')}`).toMatch(/^sg: /);
      expect(`${r.stdout}${r.stderr}`, `sg ${args.join(' ')}`).not.toContain(OUT);
    }
    // The same refusals as a viewer (PERMISSION_DENIED paths).
    const denied = await sgAs(viewerToken, ['group', 'set', 'shop', 'creds', `K=${OUT}-viewer`]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).not.toContain(OUT);
  });

  it('sg-agent exec at trace level logs no value (start, a change while running, exit)', async () => {
    const token = (await ok(['token', 'create', '--workload', 'shop/api'])).stdout.trim();
    const child = [process.execPath, '-e', 'setTimeout(() => process.exit(0), 2500)'];
    const agent = runNode(SG_AGENT, ['exec', '--log-level', 'trace', '--', ...child], { SG_ADDR: server.addr, SG_TOKEN: token, SG_PROJECT: 'shop', SG_WORKLOAD: 'api' }, undefined, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    await ok(['group', 'import', 'shop', 'creds', '-', '--format', 'json'], JSON.stringify({ APP_SECRET: `${OUT}-changed` }));
    const r = await agent;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.length, 'trace level logs something').toBeGreaterThan(0);
    expect(r.stderr).not.toContain(OUT);
    expect(r.stdout).not.toContain(OUT);
  }, 60_000);

  it('the audit log records keys, never values', async () => {
    await new Promise((r) => setTimeout(r, 800)); // buffered read records
    const c = connect({ addr: server.addr, token: server.adminToken });
    try {
      const res = await unary<typeof c.access, 'listAuditEvents', ListAuditEventsRequest, ListAuditEventsResponse>(c.access, 'listAuditEvents', ListAuditEventsRequest.fromPartial({ limit: 1000 }));
      expect(res.events.length).toBeGreaterThan(10);
      expect(JSON.stringify(res)).not.toContain(OUT);
      expect(res.events.some((e) => e.keys.includes('APP_SECRET'))).toBe(true);
    } finally {
      c.close();
    }
  });

  it("the server's own output at trace level holds no value", () => {
    const out = server.output();
    expect(out.length, 'trace level logs something').toBeGreaterThan(1000);
    expect(out).not.toContain(OUT);
  });
});
