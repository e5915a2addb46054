/**
 * Bad input gets a clear error and changes nothing: one case per kind of mistake, each
 * comparing a raw dump of the store before and after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/api.js';
import { codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';
import { dumpStore } from '../helpers/store-dump.js';

let t: TestServer;
let a: ReturnType<typeof api>;
beforeAll(async () => {
  t = await startTestServer();
  a = api(t.admin);
  await a.createProject('p');
  await a.createWorkload({ project: 'p', name: 'api' });
  await a.createAddon({ project: 'p', name: 'db', type: 'postgresql', connectionDetails: { host: 'h' } });
  await a.createGroup({ project: 'p', name: 'g', priority: 10, variables: { A: '1' } });
});
afterAll(() => t.stop());

type Case = [name: string, code: string, message: RegExp, run: () => Promise<unknown>];

const cases: Case[] = [
  ['priority 101', 'INVALID_ARGUMENT', /priority must be an integer from 0 to 100/, () => a.settings({ project: 'p', name: 'g', priority: 101 })],
  ['priority -1', 'INVALID_ARGUMENT', /priority/, () => a.settings({ project: 'p', name: 'g', priority: -1 })],
  ['priority 101 on create', 'INVALID_ARGUMENT', /priority/, () => a.createGroup({ project: 'p', name: 'h', priority: 101 })],
  ['key with a space', 'INVALID_ARGUMENT', /"BAD KEY" is not a valid key/, () => a.setVars('p', 'g', { 'BAD KEY': 'x' })],
  ['key starting with a digit', 'INVALID_ARGUMENT', /"1ABC" is not a valid key/, () => a.setVars('p', 'g', { '1ABC': 'x' })],
  ['empty key', 'INVALID_ARGUMENT', /"" is not a valid key/, () => a.setVars('p', 'g', { '': 'x' })],
  ['unknown project', 'NOT_FOUND', /project nope not found/, () => a.createGroup({ project: 'nope', name: 'g' })],
  ['unknown workload', 'NOT_FOUND', /workload p\/nope not found/, () => a.resolve('p', 'nope')],
  ['unset of an invalid key', 'INVALID_ARGUMENT', / is not a valid key/, () => a.unsetVars('p', 'g', [''])],
  ['unknown group', 'NOT_FOUND', /group p\/nope not found/, () => a.setVars('p', 'nope', { A: '1' })],
  ['unknown addon', 'NOT_FOUND', /addon nope in this project not found/, () => a.link({ project: 'p', name: 'g', addon: 'nope' })],
  ['malformed .env', 'INVALID_ARGUMENT', /\.env line 2: expected KEY=VALUE/, () => a.importVars({ project: 'p', name: 'g', format: 1, content: 'A=1\nthis is not a pair\n' })],
  ['.env with a bad key', 'INVALID_ARGUMENT', /\.env line 1:.*not a valid key/, () => a.importVars({ project: 'p', name: 'g', format: 1, content: 'BAD-KEY=1\n' })],
  ['JSON that is not an object', 'INVALID_ARGUMENT', /expected an object/, () => a.importVars({ project: 'p', name: 'g', format: 2, content: '["A"]' })],
  ['JSON with a non-string value', 'INVALID_ARGUMENT', /value of N must be a string, got number/, () => a.importVars({ project: 'p', name: 'g', format: 2, content: '{"N": 5}' })],
  ['JSON syntax error', 'INVALID_ARGUMENT', /JSON line 2/, () => a.importVars({ project: 'p', name: 'g', format: 2, content: '{\n"A": }' })],
  ['template naming an undefined key', 'INVALID_ARGUMENT', /undefined key in the value of "X"/, () => a.setVars('p', 'g', { X: '${MISSING}' })],
  ['template cycle', 'INVALID_ARGUMENT', /template cycle: X -> Y -> X/, () => a.setVars('p', 'g', { X: '${Y}', Y: '${X}' })],
  ['relative file path', 'INVALID_ARGUMENT', /must be an absolute path/, () => a.addFile({ project: 'p', name: 'g', file: { path: 'etc/x', content: Buffer.from('x') } })],
  ['file path with ..', 'INVALID_ARGUMENT', /must not contain '\.\.'/, () => a.addFile({ project: 'p', name: 'g', file: { path: '/etc/../x', content: Buffer.from('x') } })],
  ['duplicate group', 'ALREADY_EXISTS', /group p\/g already exists/, () => a.createGroup({ project: 'p', name: 'g' })],
  ['duplicate workload', 'ALREADY_EXISTS', /workload p\/api already exists/, () => a.createWorkload({ project: 'p', name: 'api' })],
  ['duplicate project', 'ALREADY_EXISTS', /project p already exists/, () => a.createProject('p')],
  ['invalid project name', 'INVALID_ARGUMENT', /not a valid name/, () => a.createProject('Bad_Name')],
  ['value over the size limit', 'RESOURCE_EXHAUSTED', /larger than the limit/, () => a.setVars('p', 'g', { BIG: 'x'.repeat(64 * 1024 + 1) })],
  ['missing token', 'UNAUTHENTICATED', /missing "authorization/, () => api(t.as(undefined)).createProject('q')],
  ['wrong token', 'UNAUTHENTICATED', /unknown token/, () => api(t.as('sg_wrong')).createProject('q')],
];

describe('bad input is refused with a clear error and changes nothing', () => {
  it.each(cases)('%s → %s', async (_name, code, message, run) => {
    const before = dumpStore(t.dataDir);
    const err = await run().then(
      () => null,
      (e: Error) => e,
    );
    expect(err, 'the call should have failed').not.toBeNull();
    expect(await codeOf(Promise.reject(err))).toBe(code);
    expect(err!.message).toMatch(message);
    expect(dumpStore(t.dataDir)).toBe(before);
  });

  it('a refused value never appears in the error message', async () => {
    const err = await a.setVars('p', 'g', { 'BAD KEY': 'CANARY-SECRET-VALUE' }).catch((e: Error) => e);
    expect(String(err)).not.toContain('CANARY-SECRET-VALUE');
  });
});
