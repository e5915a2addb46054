/**
 * The console refuses bad text like gRPC does (issue 10 §4): a body that is not valid UTF-8, or
 * a JSON string holding NUL or a lone surrogate ("\ud800", which protobuf encoding would turn
 * into U+FFFD), is INVALID_ARGUMENT and nothing is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupType } from '../../gen/secretgroups/v1/resources.js';
import { api } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/in-process.js';
import { dumpStore } from '../helpers/store-dump.js';
import { ConsoleClient } from './http.js';

let t: TestServer;
let c: ConsoleClient;
beforeAll(async () => {
  t = await startTestServer({ consoleAddr: '127.0.0.1:0' });
  const a = api(t.admin);
  await a.createProject('p');
  await a.createGroup({ project: 'p', name: 'g', type: GroupType.GROUP_TYPE_CONFIG, variables: { A: '1' } });
  c = new ConsoleClient(t.server.consoleUrl!);
  expect((await c.signIn(t.adminToken)).status).toBe(200);
});
afterAll(() => t?.stop());

const SET = '/rpc/secretgroups.v1.SecretGroupService/SetVariables';

async function refused(body: string | Buffer, reason: RegExp) {
  const before = dumpStore(t.dataDir);
  const res = await fetch(new URL(SET, t.server.consoleUrl!), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sg-console': '1', 'x-sg-session': c.binding, cookie: c.cookie },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const text = await res.text();
  expect(res.status, text).toBe(400);
  expect(JSON.parse(text).code).toBe("invalid_argument");
  expect(text).toMatch(reason);
  expect(dumpStore(t.dataDir)).toBe(before);
}

describe('console requests with bad text', () => {
  it('a body that is not valid UTF-8', async () => {
    const body = Buffer.concat([Buffer.from('{"project":"p","name":"g","variables":{"B":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
    await refused(body, /not valid UTF-8/);
  });

  it('a NUL or a lone surrogate spelled as a JSON escape, in a value or a key', async () => {
    await refused('{"project":"p","name":"g","variables":{"B":"a\\u0000b"}}', /NUL/);
    await refused('{"project":"p","name":"g","variables":{"B":"a\\ud800b"}}', /not valid UTF-8/);
    await refused('{"project":"p","name":"g","variables":{"B\\udc00":"b"}}', /not valid UTF-8/);
  });

  it('valid text, astral characters included, is accepted', async () => {
    const res = await c.rpc('SecretGroupService/SetVariables', { project: 'p', name: 'g', variables: { B: 'é😀' } });
    expect(res.status, res.body).toBe(200);
    expect((await api(t.admin).getGroup('p', 'g')).group!.variables.B).toBe('é😀');
  });
});
