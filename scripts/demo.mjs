#!/usr/bin/env node
/**
 * `npm run demo` — the five-minute tour. Starts `sg serve` on a temporary directory, builds
 * the seed's example with the real `sg` CLI (a project, tagged workloads, groups A and B with
 * priorities 50 and 20, a tag-restricted group with a secret file, an addon linked under
 * aliases, a template), shows `sg resolve --explain`, runs a child under `sg-agent exec` that
 * reports what it received, checks it, then stops the server and removes the directory.
 *
 * Secret values never appear in clear: they are fed to `sg` from files (not the command line),
 * every line shown passes through mask(), and the child prints lengths and SHA-256 prefixes.
 * Values are random per run; SG_DEMO_SEED derives them from a seed (reproducible runs, and the
 * demo's own test, which checks that none of them is printed).
 *
 * Uses the compiled dist/ (`npm ci` builds it; otherwise `npm run build`).
 */
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SG = join(ROOT, 'dist/bin/sg.cjs');
const SG_AGENT = join(ROOT, 'dist/bin/sg-agent.cjs');
const MASK = '****';

/**
 * The demo's secret values, derived from `seed` (a random one unless given), so that a test can
 * know them without the demo ever printing them.
 */
export function demoSecrets(seed = randomBytes(32).toString('hex')) {
  const v = (label) => `${label}-${createHmac('sha256', seed).update(label).digest('base64url').slice(0, 24)}`;
  return {
    /** Group A's values (a secret group). */
    KEY_1: v('a-key-1'),
    KEY_2: v('a-key-2'),
    /** The addon's password, linked as DB_PASSWORD. */
    DB_PASSWORD: v('orders-db-password'),
    /** The content of the secret file of the tag-restricted group. */
    TLS_KEY: `demo private key ${v('tls-key')}\n`,
  };
}

/** The demo's configuration (non-secret) values, shown in clear. */
export const DEMO_CONFIG = {
  B: { KEY_1: 'from-b-1', KEY_2: 'from-b-2', KEY_3: 'from-b-3', LOG_LEVEL: 'info' },
  DB: { host: 'orders-db.shop.internal', port: '5432', user: 'shop' },
  TLS_KEY_FILE: '/etc/shop/tls/key.pem',
};

/** What `shop/api` (tagged web) and `shop/worker` (tagged queue) must receive. */
export function expectedResolution(secrets, workload) {
  const vars = {
    KEY_1: secrets.KEY_1, // A (50) beats B (20)
    KEY_2: secrets.KEY_2, // A (50) beats B (20)
    KEY_3: DEMO_CONFIG.B.KEY_3, // only B has it
    LOG_LEVEL: DEMO_CONFIG.B.LOG_LEVEL,
    DB_HOST: DEMO_CONFIG.DB.host,
    DB_PORT: DEMO_CONFIG.DB.port,
    DB_USER: DEMO_CONFIG.DB.user,
    DB_PASSWORD: secrets.DB_PASSWORD,
    DATABASE_URL: `postgres://${DEMO_CONFIG.DB.user}:${secrets.DB_PASSWORD}@${DEMO_CONFIG.DB.host}:${DEMO_CONFIG.DB.port}/orders`,
  };
  const files = {};
  if (workload === 'api') {
    Object.assign(vars, { PORT: '8080', LOG_LEVEL: 'debug', TLS_KEY_FILE: DEMO_CONFIG.TLS_KEY_FILE });
    files[DEMO_CONFIG.TLS_KEY_FILE] = secrets.TLS_KEY;
  }
  return { vars, files };
}

const sha8 = (s) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/** The child run under `sg-agent exec`: reports keys with lengths and hash prefixes, never values. */
const PRINT_ENV = `
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
const sha8 = (b) => createHash('sha256').update(b).digest('hex').slice(0, 8);
const [filesRoot, keysCsv, filesCsv] = process.argv.slice(2);
console.log('child: pid ' + process.pid + ', started by sg-agent');
for (const key of keysCsv.split(',')) {
  const v = process.env[key];
  console.log('child: env  ' + key.padEnd(14) + (v === undefined ? 'MISSING' : 'len=' + String(v.length).padEnd(4) + ' sha256=' + sha8(v) + '…'));
}
for (const path of filesCsv.split(',').filter(Boolean)) {
  const on = join(filesRoot, path);
  try {
    const st = statSync(on);
    console.log('child: file ' + path + '  mode=0' + (st.mode & 0o777).toString(8) + ' len=' + st.size + ' sha256=' + sha8(readFileSync(on)) + '…');
  } catch {
    console.log('child: file ' + path + '  MISSING');
  }
}
console.log('child: SG_TOKEN in my environment: ' + (process.env.SG_TOKEN === undefined ? 'no' : 'YES'));
`;

class DemoError extends Error {}

/**
 * Applies `maskCell` to every cell of the CLI's aligned tables (a header of upper-case column
 * names, rows up to the next blank line) and re-aligns them, so that masking keeps columns
 * straight; other lines are masked as they are.
 */
export function maskTables(text, maskCell) {
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; ) {
    const header = lines[i];
    if (!/^[A-Z]+( {2,}[A-Z]+)+ *$/.test(header)) {
      out.push(maskCell(header));
      i++;
      continue;
    }
    const starts = [...header.matchAll(/(?:^| {2,})([A-Z]+)/g)].map((m) => m.index + m[0].length - m[1].length);
    const rows = [];
    for (; i < lines.length && lines[i].trim() !== ''; i++) {
      rows.push(starts.map((st, c) => maskCell(lines[i].slice(st, c + 1 < starts.length ? starts[c + 1] : undefined).trim())));
    }
    const widths = starts.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows) out.push(r.map((cell, c) => (c + 1 < r.length ? cell.padEnd(widths[c]) : cell)).join('  ').trimEnd());
  }
  return out.join('\n');
}

async function main() {
  if (!existsSync(SG) || !existsSync(SG_AGENT)) {
    console.error('demo: dist/ is missing; run `npm run build` (or `npm ci`) first');
    process.exit(2);
  }
  const secrets = demoSecrets(process.env.SG_DEMO_SEED || undefined);
  // Longest first, so that a value containing another is masked whole.
  const hidden = Object.values(secrets)
    .map((s) => s.trim())
    .sort((a, b) => b.length - a.length);
  const maskText = (text) => hidden.reduce((t, s) => t.split(s).join(MASK), text).replace(/\bsg_[A-Za-z0-9_-]{16,}/g, `sg_${MASK}`);
  const mask = (text) => maskTables(text, maskText);
  const say = (text = '') => process.stdout.write(`${mask(text)}\n`);
  const indent = (text) => text.replace(/\n+$/, '').replace(/^/gm, '    ');

  const dir = mkdtempSync(join(tmpdir(), 'sg-demo-'));
  const dataDir = join(dir, 'data');
  const filesRoot = join(dir, 'files');
  mkdirSync(filesRoot);
  const file = (name, content) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  let server;
  let stopping = false;

  const cleanup = async () => {
    stopping = true;
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (sig) => {
    cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const run = (script, args, env = {}) =>
    new Promise((resolveRun, reject) => {
      const child = spawn(process.execPath, [script, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('error', reject);
      child.on('close', (code) => resolveRun({ code, stdout, stderr }));
    });

  let adminToken = '';
  let addr = '';
  const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  /** Runs `sg ARGS` as the admin; shows the command and (all, or the first line of) its output. */
  const sg = async (args, { full = false, show = true } = {}) => {
    const r = await run(SG, args, { SG_ADDR: addr, SG_TOKEN: adminToken });
    if (show) say(`$ sg ${args.map(quote).join(' ')}`);
    if (r.code !== 0) throw new DemoError(`sg ${args[0]} ${args[1] ?? ''} failed (exit ${r.code}): ${mask(r.stderr.trim())}`);
    if (show) say(full ? indent(mask(r.stdout)) : `    ${r.stdout.split('\n')[0]}`);
    return r.stdout;
  };
  const section = (title) => say(`\n== ${title}`);

  try {
    say('secret-groups demo: the seed example, end to end, with the real sg and sg-agent');
    say(`(working directory ${dir}, removed at the end; secret values are shown as ${MASK})`);

    section('1. Start a server on a temporary directory (embedded SQLite store)');
    say(`$ sg serve --addr 127.0.0.1:0 --data ${dataDir}`);
    server = spawn(process.execPath, [SG, 'serve', '--addr', '127.0.0.1:0', '--data', dataDir, '--log-level', 'warn'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    addr = await new Promise((resolveAddr, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new DemoError('the server did not start within 20 s')), 20_000);
      const onData = (c) => {
        out += c;
        const m = /secret-groups listening on (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolveAddr(m[1]);
        }
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      server.once('exit', (code) => {
        clearTimeout(timer);
        if (!stopping) reject(new DemoError(`the server exited (${code}) before listening:\n${mask(out)}`));
      });
    });
    adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    say(`    secret-groups listening on ${addr}`);
    say('    first start: an admin token was printed once and written to data/admin.token (0600); the demo uses it');

    section('2. A project and its workloads; tags are registered here, never taken from callers');
    await sg(['project', 'create', 'shop']);
    await sg(['workload', 'create', 'shop', 'api', '--kind', 'service', '--tag', 'web', '--var', 'PORT=8080', '--var', 'LOG_LEVEL=debug']);
    await sg(['workload', 'create', 'shop', 'worker', '--kind', 'service', '--tag', 'queue']);

    section('3. An addon: a managed database whose connection details are secret');
    const details = file('orders-db.json', JSON.stringify({ ...DEMO_CONFIG.DB, password: secrets.DB_PASSWORD }));
    await sg(['addon', 'create', 'shop', 'orders-db', '--type', 'postgresql', '--details-file', details], { full: true });

    section('4. Group A (priority 50) and group B (priority 20): KEY_1 and KEY_2 from A, KEY_3 from B');
    await sg(['group', 'create', 'shop', 'a', '--type', 'secret', '--scope', 'both', '--priority', '50']);
    // Secret values go in through a file: command lines are visible to every local user (ps).
    const aEnv = file('a.env', `KEY_1=${secrets.KEY_1}\nKEY_2=${secrets.KEY_2}\n`);
    await sg(['group', 'import', 'shop', 'a', aEnv, '--format', 'dotenv']);
    await sg(['group', 'create', 'shop', 'b', '--type', 'config', '--scope', 'both', '--priority', '20']);
    await sg(['group', 'set', 'shop', 'b', ...Object.entries(DEMO_CONFIG.B).map(([k, v]) => `${k}=${v}`)]);

    section('5. A tag-restricted group with a secret file: it reaches only workloads tagged "web"');
    await sg(['group', 'create', 'shop', 'web-tls', '--priority', '40', '--tag', 'web']);
    say('    (no --type: a group is secret unless config is asked for; files need write on secret groups anyway)');
    await sg(['group', 'file', 'add', 'shop', 'web-tls', DEMO_CONFIG.TLS_KEY_FILE, '--from', file('tls-key.pem', secrets.TLS_KEY)]);
    await sg(['group', 'set', 'shop', 'web-tls', `TLS_KEY_FILE=${DEMO_CONFIG.TLS_KEY_FILE}`]);

    section('6. The addon linked under aliases, and a template evaluated within the group');
    await sg(['group', 'create', 'shop', 'database', '--priority', '60']);
    say('    (addon details are secret values: only a secret group may link an addon)');
    await sg(['group', 'link', 'shop', 'database', 'orders-db', '--addon-key', 'host=DB_HOST', '--addon-key', 'port=DB_PORT', '--addon-key', 'user=DB_USER', '--addon-key', 'password=DB_PASSWORD']);
    await sg(['group', 'set', 'shop', 'database', 'DATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}:${DB_PORT}/orders']);

    section('7. Resolution with provenance: who wins each key, and whom it shadows');
    await sg(['resolve', 'shop', 'api', '--explain'], { full: true });
    say('\n    worker is not tagged "web": no TLS_KEY_FILE, no key file, and LOG_LEVEL comes from B');
    await sg(['resolve', 'shop', 'worker', '--explain'], { full: true });

    section('8. The agent: `sg-agent exec` starts the workload with its variables and files');
    const token = (await sg(['token', 'create', '--workload', 'shop/api', '--name', 'demo-agent'], { show: false })).trim();
    say('$ sg token create --workload shop/api --name demo-agent');
    say('    (a workload token: it may resolve shop/api and nothing else; not shown)');
    const expected = expectedResolution(secrets, 'api');
    const keys = Object.keys(expected.vars).sort();
    const paths = Object.keys(expected.files);
    const printer = file('print-env.mjs', PRINT_ENV);
    const agentArgs = ['exec', '--project', 'shop', '--workload', 'api', '--files-root', filesRoot, '--log-level', 'warn', '--', process.execPath, printer, filesRoot, keys.join(','), paths.join(',')];
    say(`$ sg-agent exec --project shop --workload api --files-root ${filesRoot} -- node print-env.mjs …`);
    const child = await run(SG_AGENT, agentArgs, { SG_ADDR: addr, SG_TOKEN: token });
    say(indent(child.stdout));
    if (child.code !== 0) throw new DemoError(`sg-agent exec exited with ${child.code}: ${mask(child.stderr.trim())}`);

    section('9. Check: the child received exactly the expected values (compared by hash)');
    const report = new Map([...child.stdout.matchAll(/^child: env {2}(\S+)\s+len=(\d+)\s+sha256=([0-9a-f]{8})/gm)].map((m) => [m[1], m[3]]));
    const fileReport = new Map([...child.stdout.matchAll(/^child: file (\S+) {2}mode=(0\d+) len=\d+ sha256=([0-9a-f]{8})/gm)].map((m) => [m[1], { mode: m[2], sha: m[3] }]));
    const why = {
      KEY_1: 'group a (50) shadows b (20)',
      KEY_2: 'group a (50) shadows b (20)',
      KEY_3: 'only group b has it',
      LOG_LEVEL: "the workload's own variable overrides b",
      PORT: "the workload's own variable",
      TLS_KEY_FILE: 'group web-tls (tag web)',
      DATABASE_URL: 'template over the addon aliases',
    };
    let bad = 0;
    for (const key of keys) {
      const ok = report.get(key) === sha8(expected.vars[key]);
      if (!ok) bad++;
      say(`    ${ok ? 'ok  ' : 'FAIL'} ${key.padEnd(14)} ${why[key] ?? (key.startsWith('DB_') ? 'addon orders-db via group database' : '')}`);
    }
    for (const path of paths) {
      const got = fileReport.get(path);
      const ok = got?.sha === sha8(expected.files[path]) && got?.mode === '0600';
      if (!ok) bad++;
      say(`    ${ok ? 'ok  ' : 'FAIL'} file ${path} (mode 0600, under --files-root)`);
    }
    const tokenHidden = /SG_TOKEN in my environment: no/.test(child.stdout);
    if (!tokenHidden) bad++;
    say(`    ${tokenHidden ? 'ok  ' : 'FAIL'} the agent did not pass its own token to the child`);
    if (bad) throw new DemoError(`${bad} check(s) failed`);
  } catch (err) {
    await cleanup();
    console.error(`\ndemo: ${err instanceof DemoError ? err.message : mask(String(err?.stack ?? err))}`);
    process.exit(1);
  }

  await cleanup();
  say('\n== Done: server stopped, working directory removed.');
  say('Next: README.md (concepts), docs/cli.md (every command), docs/agent.md, docs/architecture.md.');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
