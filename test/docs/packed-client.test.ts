/**
 * The typed client installs the way the README says another project installs it: from the
 * tarball `npm pack` writes. The tarball is unpacked into a fresh project's
 * node_modules/secret-groups exactly as `npm install ./secret-groups-0.1.0.tgz` lays it out,
 * its runtime dependencies linked from this checkout (an install would fetch those from the
 * registry: the test stays offline and bounded), then that project imports
 * `secret-groups/client`, type-checks against it and resolves a workload from a real server.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runner } from '../cli/harness.js';
import { ROOT, startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let dir: string;
let server: ServerProcess;
let tarball: string;
let packed: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-pack-'));
  // --ignore-scripts: `prepare` would rebuild; the test run has built dist/ already.
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(pack.status, pack.stderr).toBe(0);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(dir, info!.filename);
  packed = info!.files.map((f) => f.path);
  server = await startServerProcess();
}, 150_000);

afterAll(async () => {
  await server?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('installs from the packed tarball; the consumer imports secret-groups/client, type-checks and resolves', { timeout: 120_000 }, async () => {
  expect(tarball).toMatch(/secret-groups-\d+\.\d+\.\d+\.tgz$/);
  expect(packed).toEqual(expect.arrayContaining(['package.json', 'dist/client/index.js', 'dist/client/index.d.ts']));
  // The bins are the bundles with their code cache (scripts/bundle-bins.mjs).
  for (const name of ['sg', 'sg-agent']) {
    expect(packed).toEqual(expect.arrayContaining([`dist/bin/${name}.cjs`, `dist/bin/${name}.bundle.cjs`, `dist/bin/${name}.bundle.cache`]));
  }

  const sg = runner(server);
  await sg.ok(['project', 'create', 'shop']);
  await sg.ok(['workload', 'create', 'shop', 'api']);
  await sg.ok(['group', 'create', 'shop', 'common', '--type', 'config']);
  await sg.ok(['group', 'set', 'shop', 'common', 'GREETING=hello from the tarball']);
  const token = (await sg.ok(['token', 'create', '--workload', 'shop/api'])).trim();

  const consumer = join(dir, 'consumer');
  const pkgDir = join(consumer, 'node_modules/secret-groups');
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true, dependencies: { 'secret-groups': `file:${tarball}` } }));
  const untar = spawnSync('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components=1'], { encoding: 'utf8' });
  expect(untar.status, untar.stderr).toBe(0);
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dep of Object.keys(manifest.dependencies)) {
    const at = join(consumer, 'node_modules', dep);
    mkdirSync(dirname(at), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', dep), at, 'dir');
  }

  writeFileSync(
    join(consumer, 'main.ts'),
    `import { createClient, RpcError, type Resolution } from 'secret-groups/client';
const client = createClient();
const res: Resolution = await client.resolve({ project: 'shop', workload: 'api' });
console.log(JSON.stringify({ greeting: res.variables.GREETING, rpcError: typeof RpcError }));
client.close();
`,
  );
  // Types: the package's "exports" and its .d.ts files, as a NodeNext TypeScript project sees them.
  const tsc = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', 'main.ts'],
    { cwd: consumer, encoding: 'utf8', timeout: 60_000 },
  );
  expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  // Run: the same code as JavaScript (the types stripped by hand: one annotation).
  writeFileSync(join(consumer, 'main.mjs'), readFileSync(join(consumer, 'main.ts'), 'utf8').replace(', type Resolution', '').replace('const res: Resolution', 'const res'));
  const run = spawnSync(process.execPath, ['main.mjs'], { cwd: consumer, encoding: 'utf8', timeout: 30_000, env: { ...process.env, SG_ADDR: server.addr, SG_TOKEN: token } });
  expect(run.status, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({ greeting: 'hello from the tarball', rpcError: 'function' });
  // The installed bins run from the package's own directory, their packages found beside it.
  const manifestBins = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
  const version = spawnSync(process.execPath, [join(pkgDir, manifestBins.sg!), '--version'], { cwd: consumer, encoding: 'utf8' });
  expect(version.stderr).toBe('');
  expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  const list = spawnSync(process.execPath, [join(pkgDir, manifestBins.sg!), 'project', 'list', '--json'], {
    cwd: consumer,
    encoding: 'utf8',
    env: { ...process.env, SG_ADDR: server.addr, SG_TOKEN: server.adminToken },
  });
  expect(list.status, list.stderr).toBe(0);
  expect(JSON.parse(list.stdout)).toMatchObject({ projects: [{ name: 'shop' }] });
  const agent = spawnSync(process.execPath, [join(pkgDir, manifestBins['sg-agent']!), 'exec', '--project', 'shop', '--workload', 'api', '--', process.execPath, '-e', 'process.stdout.write(process.env.GREETING)'], {
    cwd: consumer,
    encoding: 'utf8',
    env: { ...process.env, SG_ADDR: server.addr, SG_TOKEN: token },
  });
  expect(agent.status, agent.stderr).toBe(0);
  expect(agent.stdout).toBe('hello from the tarball');
  // Only the documented entry points are importable: the server's code is not.
  const deep = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('secret-groups/dist/cli/main.js')"], { cwd: consumer, encoding: 'utf8' });
  expect(deep.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
});
