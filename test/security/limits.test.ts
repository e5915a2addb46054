/**
 * Every documented limit (README "Limits", server/domain/limits.ts) through the real API:
 * a violation is refused with INVALID_ARGUMENT or RESOURCE_EXHAUSTED and the raw store is
 * unchanged. The value just at the limit is accepted, so the test proves where the line is.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportFormat } from '../../gen/secretgroups/v1/secret_group_service.js';
import { GroupType } from '../../gen/secretgroups/v1/resources.js';
import { LIMITS } from '../../server/domain/limits.js';
import { api } from '../helpers/api.js';
import { call, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';
import { dumpStore } from '../helpers/store-dump.js';

let t: TestServer;
let a: ReturnType<typeof api>;
beforeAll(async () => {
  t = await startTestServer();
  a = api(t.admin);
  await a.createProject('p');
  await a.createWorkload({ project: 'p', name: 'api' });
  await a.createAddon({ project: 'p', name: 'db', type: 'postgresql', connectionDetails: { host: 'h' } });
});
afterAll(() => t?.stop());

const SIZE_CODES = ['RESOURCE_EXHAUSTED', 'INVALID_ARGUMENT'];

/** The call is refused with a size/argument code, a message, and nothing stored. */
async function refused(p: () => Promise<unknown>, codes = SIZE_CODES): Promise<string> {
  const before = dumpStore(t.dataDir);
  let message = '';
  const code = await codeOf(
    p().catch((e: grpc.ServiceError) => {
      message = e.details;
      throw e;
    }),
  );
  expect(codes, `got ${code}: ${message}`).toContain(code);
  expect(message.length).toBeGreaterThan(10);
  expect(dumpStore(t.dataDir), 'a refused request changed the store').toBe(before);
  return message;
}

const str = (bytes: number, ch = 'x') => ch.repeat(bytes);
let n = 0;
const fresh = async (variables: Record<string, string> = { A: 'a' }) => {
  const name = `g${++n}`;
  await a.createGroup({ project: 'p', name, type: GroupType.GROUP_TYPE_SECRET, variables });
  return name;
};
const manyKeys = (count: number, value = 'v') => Object.fromEntries(Array.from({ length: count }, (_, i) => [`K${i}`, value]));

describe('value size: 64 KiB', () => {
  it('a value of exactly 64 KiB is stored; one byte more is refused everywhere values enter', async () => {
    const g = await fresh();
    expect(await codeOf(a.setVars('p', g, { AT: str(LIMITS.valueBytes) }))).toBe('OK');
    const over = str(LIMITS.valueBytes + 1);
    await refused(() => a.setVars('p', g, { OVER: over }));
    // Multi-byte characters count in bytes, not characters.
    await refused(() => a.setVars('p', g, { OVER: str(LIMITS.valueBytes / 2 + 1, 'é') }));
    await refused(() => a.createGroup({ project: 'p', name: 'big-create', variables: { OVER: over } }));
    await refused(() => a.importVars({ project: 'p', name: g, format: ImportFormat.IMPORT_FORMAT_JSON, content: JSON.stringify({ OVER: over }) }));
    await refused(() => a.importVars({ project: 'p', name: g, format: ImportFormat.IMPORT_FORMAT_DOTENV, content: `OVER=${over}\n` }));
    await refused(() => a.createWorkload({ project: 'p', name: 'big-w', runtimeVariables: { OVER: over } }));
    await refused(() => a.updateWorkload({ project: 'p', name: 'api', setBuildArguments: { OVER: over } }));
    await refused(() => a.createAddon({ project: 'p', name: 'big-a', type: 'x', connectionDetails: { password: over } }));
    await refused(() => a.updateAddon({ project: 'p', name: 'db', connectionDetails: { password: over } }));
  });
});

describe('keys per group: 1,000', () => {
  it('1,000 keys are stored; the 1,001st is refused however it arrives', async () => {
    const g = await fresh(manyKeys(LIMITS.keysPerGroup));
    await refused(() => a.setVars('p', g, { ONE_MORE: 'v' }));
    await refused(() => a.importVars({ project: 'p', name: g, format: ImportFormat.IMPORT_FORMAT_DOTENV, content: 'ONE_MORE=v\n' }));
    await refused(() => a.createGroup({ project: 'p', name: 'too-many', variables: manyKeys(LIMITS.keysPerGroup + 1) }));
    const h = await fresh();
    await refused(() => a.importVars({ project: 'p', name: h, format: ImportFormat.IMPORT_FORMAT_JSON, content: JSON.stringify(manyKeys(LIMITS.keysPerGroup + 1)) }));
    // Workload maps have the same limit.
    await refused(() => a.createWorkload({ project: 'p', name: 'many', runtimeVariables: manyKeys(LIMITS.keysPerGroup + 1) }));
  });
});

describe('group size: 1 MiB', () => {
  it('values adding up to more than 1 MiB are refused, also when spread over several calls', async () => {
    const value = str(60 * 1024);
    const g = await fresh();
    // 17 × 60 KiB = 1020 KiB plus keys: under the limit.
    for (let i = 0; i < 17; i += 1) await a.setVars('p', g, { [`V${i}`]: value });
    await refused(() => a.setVars('p', g, { V17: value }));
    const h = await fresh();
    await refused(() => a.setVars('p', h, Object.fromEntries(Array.from({ length: 18 }, (_, i) => [`V${i}`, value]))));
  });

  it('files count towards the group size', async () => {
    const g = await fresh();
    const file = (path: string, bytes: number) => ({ path, content: Buffer.alloc(bytes, 1), mode: 0o600, size: 0 });
    expect(await codeOf(a.addFile({ project: 'p', name: g, file: file('/etc/a', 700 * 1024) }))).toBe('OK');
    await refused(() => a.addFile({ project: 'p', name: g, file: file('/etc/b', 400 * 1024) }));
    await refused(() => a.setVars('p', g, { V1: str(60 * 1024), V2: str(60 * 1024), V3: str(60 * 1024), V4: str(60 * 1024), V5: str(60 * 1024), V6: str(60 * 1024) }));
  });
});

describe('files: 1 MiB each, 100 per group', () => {
  const file = (path: string, bytes: number) => ({ path, content: Buffer.alloc(bytes, 7), mode: 0o600, size: 0 });

  it('a file of more than 1 MiB is refused', async () => {
    const g = await fresh({});
    await refused(() => a.addFile({ project: 'p', name: g, file: file('/etc/big', LIMITS.fileBytes + 1) }));
  });

  it('the 101st file is refused', async () => {
    const g = await fresh({});
    for (let i = 0; i < LIMITS.filesPerGroup; i++) await a.addFile({ project: 'p', name: g, file: file(`/etc/f${i}`, 10) });
    await refused(() => a.addFile({ project: 'p', name: g, file: file('/etc/f-extra', 10) }));
    // Replacing an existing path is not a new file.
    expect(await codeOf(a.addFile({ project: 'p', name: g, file: file('/etc/f0', 11) }))).toBe('OK');
  });
});

describe('tags per workload: 64', () => {
  const tags = (count: number) => Array.from({ length: count }, (_, i) => `t${i}`);
  it('64 tags are stored; 65 are refused on create, on update and in group restrictions', async () => {
    expect(await codeOf(a.createWorkload({ project: 'p', name: 'tagged', tags: tags(LIMITS.tagsPerWorkload) }))).toBe('OK');
    await refused(() => a.createWorkload({ project: 'p', name: 'tagged-too', tags: tags(LIMITS.tagsPerWorkload + 1) }));
    await refused(() => a.updateWorkload({ project: 'p', name: 'api', replaceTags: true, tags: tags(LIMITS.tagsPerWorkload + 1) }));
    const g = await fresh();
    await refused(() => a.settings({ project: 'p', name: g, restrictions: { restricted: true, workloads: [], tags: tags(LIMITS.tagsPerWorkload + 1) } }));
  });
});

describe('import text: 2 MiB', () => {
  it('an import larger than 2 MiB is refused even if it would hold few keys', async () => {
    const g = await fresh();
    const padding = `# ${str(LIMITS.importBytes)}\n`;
    await refused(() => a.importVars({ project: 'p', name: g, format: ImportFormat.IMPORT_FORMAT_DOTENV, content: `${padding}A=b\n` }));
    await refused(() => a.importVars({ project: 'p', name: g, format: ImportFormat.IMPORT_FORMAT_JSON, content: `{"A": "b"${' '.repeat(LIMITS.importBytes)}}` }));
  });
});

describe('gRPC request: 8 MiB', () => {
  it('a request larger than 8 MiB is refused before the server reads it', async () => {
    const g = await fresh();
    const msg = await refused(() => a.importVars({ project: 'p', name: g, format: ImportFormat.IMPORT_FORMAT_DOTENV, content: str(LIMITS.requestBytes + 1024) }), ['RESOURCE_EXHAUSTED']);
    expect(msg).toMatch(/larger than max|exceed|too large|limit/i);
    await refused(() => a.addFile({ project: 'p', name: g, file: { path: '/etc/huge', content: Buffer.alloc(LIMITS.requestBytes + 1024), mode: 0, size: 0 } }), ['RESOURCE_EXHAUSTED']);
  });
});

describe('names and keys', () => {
  it('an over-long name or key is refused', async () => {
    await refused(() => a.createProject(str(LIMITS.nameLength + 1, 'a')));
    await refused(() => a.createGroup({ project: 'p', name: str(LIMITS.nameLength + 1, 'a'), variables: {} }));
    const g = await fresh();
    await refused(() => a.setVars('p', g, { [str(LIMITS.keyLength + 1, 'K')]: 'v' }));
    await refused(() => a.settings({ project: 'p', name: g, description: str(LIMITS.descriptionLength + 1) }));
  });
});

describe('groups per project: 1,000', () => {
  it('the 1,001st group is refused, also when many are created at once', { timeout: 120_000 }, async () => {
    await a.createProject('full');
    const create = (i: number) => codeOf(a.createGroup({ project: 'full', name: `n${i}`, variables: {} }));
    const target = LIMITS.groupsPerProject - 10;
    for (let i = 0; i < target; i += 50) await Promise.all(Array.from({ length: Math.min(50, target - i) }, (_, j) => create(i + j)));
    // 30 concurrent creates for the last 10 places: at most 10 may succeed.
    const codes = await Promise.all(Array.from({ length: 30 }, (_, j) => create(target + j)));
    expect(codes.filter((c) => c === 'OK').length).toBeLessThanOrEqual(10);
    for (const c of codes) expect(['OK', 'RESOURCE_EXHAUSTED']).toContain(c);
    const listed = await call<object, { groups: unknown[] }>(t.admin.groups, 'listGroups', { project: 'full' });
    expect(listed.groups.length).toBeLessThanOrEqual(LIMITS.groupsPerProject);
    // Fill up sequentially if the concurrent round left places, then the next one is refused.
    for (let i = listed.groups.length; i < LIMITS.groupsPerProject; i++) expect(await create(5000 + i)).toBe('OK');
    await refused(() => a.createGroup({ project: 'full', name: 'one-too-many', variables: {} }));
  });
});
