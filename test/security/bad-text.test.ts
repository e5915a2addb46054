/**
 * Bad bytes and unbounded echoes (issue 10 §4). Invalid UTF-8 and NUL in any text field are
 * refused with INVALID_ARGUMENT and nothing is stored (protobuf decoding would otherwise replace
 * invalid UTF-8 with U+FFFD, and a NUL makes every agent of the workload exit); file contents
 * are bytes and take anything. Error messages repeat at most a short piece of input, never a
 * value, and every status message is bounded however large the input.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessLevel, CreateRoleRequest, CreateTokenRequest, DeleteRoleRequest } from '../../gen/secretgroups/v1/access_service.js';
import { GroupType } from '../../gen/secretgroups/v1/resources.js';
import { CreateAddonRequest, CreateWorkloadRequest, UpdateAddonRequest, UpdateWorkloadRequest } from '../../gen/secretgroups/v1/project_service.js';
import {
  AddFileRequest,
  CreateGroupRequest,
  ImportFormat,
  ImportVariablesRequest,
  RevealKind,
  RevealValueRequest,
  SetVariablesRequest,
  UnsetVariablesRequest,
  UpdateGroupSettingsRequest,
} from '../../gen/secretgroups/v1/secret_group_service.js';
import { ResolveRequest } from '../../gen/secretgroups/v1/resolver_service.js';
import { MAX_STATUS_MESSAGE } from '../../server/api/status.js';
import { api, vars } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/in-process.js';
import { dumpStore } from '../helpers/store-dump.js';

let t: TestServer;
let a: ReturnType<typeof api>;
let raw: grpc.Client;

beforeAll(async () => {
  t = await startTestServer();
  a = api(t.admin);
  await a.createProject('p');
  await a.createWorkload({ project: 'p', name: 'api', tags: ['team'] });
  await a.createAddon({ project: 'p', name: 'db', type: 'postgresql', connectionDetails: { host: 'h' } });
  await a.createGroup({ project: 'p', name: 'g', type: GroupType.GROUP_TYPE_CONFIG, variables: { A: '1' } });
  raw = new grpc.Client(t.server.addr, grpc.credentials.createInsecure());
});
afterAll(async () => {
  raw?.close();
  await t?.stop();
});

/** Sends already-encoded request bytes, as a client with its own serializer would. */
function send(path: string, bytes: Uint8Array): Promise<grpc.ServiceError | null> {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${t.adminToken}`);
  return new Promise((resolve) => {
    raw.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(bytes), md, (err) => resolve(err));
  });
}

/** The encoded message with the placeholder's bytes replaced (same length, so still valid protobuf). */
function patch(bytes: Uint8Array, placeholder: string, replacement: number[]): Uint8Array {
  const buf = Buffer.from(bytes);
  const at = buf.indexOf(Buffer.from(placeholder));
  expect(at, `placeholder ${placeholder} not found`).toBeGreaterThanOrEqual(0);
  expect(replacement).toHaveLength(Buffer.byteLength(placeholder));
  for (let i = 0; i < replacement.length; i++) buf[at + i] = replacement[i]!;
  return buf;
}

const INVALID_UTF8: [string, number[]][] = [
  ['a lone continuation byte', [0x61, 0x80]],
  ['a truncated sequence', [0xc3, 0x28]],
  ['an overlong encoding of "/"', [0xc0, 0xaf]],
  ['an encoded surrogate', [0xed, 0xa0]],
];

const svc = (s: string, m: string) => `/secretgroups.v1.${s}/${m}`;
/** Every kind of text field, each with the placeholder "ZZ" where the bad bytes go. */
const FIELDS: [string, string, Uint8Array][] = [
  ['a variable value', svc('SecretGroupService', 'SetVariables'), SetVariablesRequest.encode(SetVariablesRequest.fromPartial({ project: 'p', name: 'g', variables: { B: 'xZZx' }, expectedRevision: 0 })).finish()],
  ['a variable key', svc('SecretGroupService', 'SetVariables'), SetVariablesRequest.encode(SetVariablesRequest.fromPartial({ project: 'p', name: 'g', variables: { KZZ: 'v' }, expectedRevision: 0 })).finish()],
  ['import text', svc('SecretGroupService', 'ImportVariables'), ImportVariablesRequest.encode(ImportVariablesRequest.fromPartial({ project: 'p', name: 'g', format: ImportFormat.IMPORT_FORMAT_DOTENV, content: 'C=ZZ\n', replace: false, expectedRevision: 0 })).finish()],
  ['a description', svc('SecretGroupService', 'UpdateGroupSettings'), UpdateGroupSettingsRequest.encode(UpdateGroupSettingsRequest.fromPartial({ project: 'p', name: 'g', expectedRevision: 0, description: 'dZZ' })).finish()],
  ['a file path', svc('SecretGroupService', 'AddFile'), AddFileRequest.encode({ project: 'p', name: 'g', expectedRevision: 0, file: { path: '/etc/ZZ', content: Buffer.from('x'), mode: 0o600, size: 0 } }).finish()],
  ['a workload variable', svc('ProjectService', 'CreateWorkload'), CreateWorkloadRequest.encode(CreateWorkloadRequest.fromPartial({ project: 'p', name: 'w2', runtimeVariables: { R: 'ZZ' } })).finish()],
  ['a build argument', svc('ProjectService', 'UpdateWorkload'), UpdateWorkloadRequest.encode(UpdateWorkloadRequest.fromPartial({ project: 'p', name: 'api', setBuildArguments: { B: 'ZZ' } })).finish()],
  ['a workload tag', svc('ProjectService', 'CreateWorkload'), CreateWorkloadRequest.encode(CreateWorkloadRequest.fromPartial({ project: 'p', name: 'w3', tags: ['tZZ'] })).finish()],
  ['an addon detail', svc('ProjectService', 'CreateAddon'), CreateAddonRequest.encode(CreateAddonRequest.fromPartial({ project: 'p', name: 'cache', type: 'redis', connectionDetails: { password: 'ZZ' } })).finish()],
  ['a group created with a value', svc('SecretGroupService', 'CreateGroup'), CreateGroupRequest.encode(CreateGroupRequest.fromPartial({ project: 'p', name: 'h', variables: { V: 'ZZ' } })).finish()],
];

async function refusedRaw(path: string, bytes: Uint8Array, reason: RegExp): Promise<void> {
  const before = dumpStore(t.dataDir);
  const err = await send(path, bytes);
  expect(err, 'the call should have been refused').not.toBeNull();
  expect(grpc.status[err!.code], err!.details).toBe('INVALID_ARGUMENT');
  expect(err!.details).toMatch(reason);
  expect(dumpStore(t.dataDir), 'a refused request changed the store').toBe(before);
}

describe('invalid UTF-8 in any text field is refused, not replaced', () => {
  for (const [field, path, bytes] of FIELDS) {
    it.each(INVALID_UTF8)(`${field}: %s`, async (_kind, replacement) => {
      await refusedRaw(path, patch(bytes, 'ZZ', replacement), /not valid UTF-8/);
    });
  }

  it('the same requests with valid bytes in place are accepted (the raw client works)', async () => {
    const err = await send(FIELDS[0]![1], patch(FIELDS[0]![2], 'ZZ', [0xc3, 0xa9])); // "é"
    expect(err).toBeNull();
    expect((await vars(a.resolve('p', 'api'))).B).toBe('xéx');
  });

  it('file content is bytes: invalid UTF-8 and NUL are kept exactly', async () => {
    const content = Buffer.from([0x00, 0xc3, 0x28, 0xff, 0x80, 0x00]);
    await a.addFile({ project: 'p', name: 'g', file: { path: '/etc/blob', content, mode: 0o600, size: 0 } });
    const r = await a.resolve('p', 'api');
    expect(Buffer.from(r.resolution!.files.find((f) => f.path === '/etc/blob')!.content).equals(content)).toBe(true);
  });
});

describe('NUL is refused in every text field', () => {
  for (const [field, path, bytes] of FIELDS) {
    it(field, async () => {
      await refusedRaw(path, patch(bytes, 'ZZ', [0x61, 0x00]), /NUL character/);
    });
  }

  it('through the typed client too, and escaped inside a JSON import', async () => {
    const before = dumpStore(t.dataDir);
    const codeAndMessage = (p: Promise<unknown>) => p.then(() => 'OK', (e: grpc.ServiceError) => `${grpc.status[e.code]}: ${e.details}`);
    expect(await codeAndMessage(a.setVars('p', 'g', { N: 'a\0b' }))).toMatch(/^INVALID_ARGUMENT: .*NUL/);
    expect(await codeAndMessage(a.importVars({ project: 'p', name: 'g', format: ImportFormat.IMPORT_FORMAT_JSON, content: '{"N": "a\\u0000b"}' }))).toMatch(
      /^INVALID_ARGUMENT: .*N.*contains a NUL character/,
    );
    // A JSON escape can also spell a lone surrogate, which UTF-8 cannot hold.
    expect(await codeAndMessage(a.importVars({ project: 'p', name: 'g', format: ImportFormat.IMPORT_FORMAT_JSON, content: '{"S": "a\\ud800b"}' }))).toMatch(
      /^INVALID_ARGUMENT: .*lone surrogate/,
    );
    expect(dumpStore(t.dataDir)).toBe(before);
  });
});

describe('error messages echo a bounded piece of input and never a value', () => {
  const huge = 'Q'.repeat(200_000);
  const md = () => {
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${t.adminToken}`);
    return m;
  };
  /** Every route the report found echoing input, and more, each with a 200 KB input. */
  const routes: [string, string, () => Uint8Array, string][] = [
    // Under the 64 KiB that Resolve reads before authentication (STREAM_REQUEST_BYTES): the domain's refusal.
    ['claimed tags in Resolve', svc('ResolverService', 'Resolve'), () => ResolveRequest.encode(ResolveRequest.fromPartial({ project: 'p', workload: 'api', scope: 1, tags: [huge.slice(0, 60_000)] })).finish(), 'INVALID_ARGUMENT'],
    ['a Resolve request over that limit', svc('ResolverService', 'Resolve'), () => ResolveRequest.encode(ResolveRequest.fromPartial({ project: 'p', workload: 'api', scope: 1, tags: [huge] })).finish(), 'RESOURCE_EXHAUSTED'],
    ['many claimed tags in Resolve', svc('ResolverService', 'Resolve'), () => ResolveRequest.encode(ResolveRequest.fromPartial({ project: 'p', workload: 'api', scope: 1, tags: Array.from({ length: 5000 }, (_, i) => `tag-${i}`) })).finish(), 'RESOURCE_EXHAUSTED'],
    ['unregistered claimed tags in Resolve', svc('ResolverService', 'Resolve'), () => ResolveRequest.encode(ResolveRequest.fromPartial({ project: 'p', workload: 'api', scope: 1, tags: Array.from({ length: 64 }, (_, i) => `t${i}-${'x'.repeat(55)}`) })).finish(), 'PERMISSION_DENIED'],
    ['DeleteRole', svc('AccessService', 'DeleteRole'), () => DeleteRoleRequest.encode({ name: huge }).finish(), 'INVALID_ARGUMENT'],
    ['CreateRole', svc('AccessService', 'CreateRole'), () => CreateRoleRequest.encode({ role: { name: huge, description: '', secret: AccessLevel.ACCESS_LEVEL_READ, config: AccessLevel.ACCESS_LEVEL_READ, projectAdmin: false, tokenAdmin: false, resolve: false, builtin: false } }).finish(), 'INVALID_ARGUMENT'],
    ['CreateToken with an unknown role', svc('AccessService', 'CreateToken'), () => CreateTokenRequest.encode(CreateTokenRequest.fromPartial({ name: 'x', role: huge })).finish(), 'INVALID_ARGUMENT'],
    ['unsetting a workload variable', svc('ProjectService', 'UpdateWorkload'), () => UpdateWorkloadRequest.encode(UpdateWorkloadRequest.fromPartial({ project: 'p', name: 'api', unsetRuntimeVariables: [huge] })).finish(), 'INVALID_ARGUMENT'],
    ['unsetting many missing group variables', svc('SecretGroupService', 'UnsetVariables'), () => UnsetVariablesRequest.encode({ project: 'p', name: 'g', expectedRevision: 0, keys: Array.from({ length: 1000 }, (_, i) => `K${i}_${'k'.repeat(250)}`) }).finish(), 'NOT_FOUND'],
    ['RevealValue of a missing key', svc('SecretGroupService', 'RevealValue'), () => RevealValueRequest.encode(RevealValueRequest.fromPartial({ project: 'p', kind: RevealKind.REVEAL_KIND_GROUP_FILE, name: 'g', key: `/${huge}`.slice(0, 1000) })).finish(), 'NOT_FOUND'],
    ['unsetting many missing addon details', svc('ProjectService', 'UpdateAddon'), () => UpdateAddonRequest.encode(UpdateAddonRequest.fromPartial({ project: 'p', name: 'db', merge: true, unsetDetails: Array.from({ length: 1000 }, (_, i) => `d${i}_${'x'.repeat(120)}`) })).finish(), 'NOT_FOUND'],
    ['restricting to many unknown workloads', svc('SecretGroupService', 'UpdateGroupSettings'), () => UpdateGroupSettingsRequest.encode(UpdateGroupSettingsRequest.fromPartial({ project: 'p', name: 'g', restrictions: { restricted: true, workloads: Array.from({ length: 1000 }, (_, i) => `w${i}-${'x'.repeat(55)}`), tags: [] } })).finish(), 'INVALID_ARGUMENT'],
    ['a bad key', svc('SecretGroupService', 'SetVariables'), () => SetVariablesRequest.encode(SetVariablesRequest.fromPartial({ project: 'p', name: 'g', variables: { [`-${huge}`]: 'v' }, expectedRevision: 0 })).finish(), 'INVALID_ARGUMENT'],
    ['a bad file path', svc('SecretGroupService', 'AddFile'), () => AddFileRequest.encode({ project: 'p', name: 'g', expectedRevision: 0, file: { path: `rel/${huge}`, content: Buffer.from('x'), mode: 0, size: 0 } }).finish(), 'INVALID_ARGUMENT'],
    ['many undefined template references', svc('SecretGroupService', 'SetVariables'), () => SetVariablesRequest.encode(SetVariablesRequest.fromPartial({ project: 'p', name: 'g', variables: Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`K${i}_${'k'.repeat(200)}`, '${MISSING}'])), expectedRevision: 0 })).finish(), 'INVALID_ARGUMENT'],
    ['a long template cycle', svc('SecretGroupService', 'SetVariables'), () => SetVariablesRequest.encode(SetVariablesRequest.fromPartial({ project: 'p', name: 'g', variables: Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`K${i}_${'k'.repeat(200)}`, `\${K${(i + 1) % 900}_${'k'.repeat(200)}}`])), expectedRevision: 0 })).finish(), 'INVALID_ARGUMENT'],
  ];

  it.each(routes)('%s: the real code, and a message of at most %#', async (_name, path, encode, code) => {
    const before = dumpStore(t.dataDir);
    const err = await new Promise<grpc.ServiceError | null>((resolve) => raw.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(encode()), md(), (e) => resolve(e)));
    expect(err).not.toBeNull();
    expect(grpc.status[err!.code], err!.details).toBe(code);
    expect(err!.details.length).toBeLessThanOrEqual(MAX_STATUS_MESSAGE);
    expect(err!.details).not.toMatch(/Q{65}|k{65}|x{65}/);
    expect(dumpStore(t.dataDir)).toBe(before);
  });

  it('a template error names the key holding the bad reference, never the reference (it may be a secret)', async () => {
    const err = await a.setVars('p', 'g', { T: 'pre${hunter2secret}post' }).catch((e: grpc.ServiceError) => e);
    expect(grpc.status[(err as grpc.ServiceError).code]).toBe('INVALID_ARGUMENT');
    expect((err as grpc.ServiceError).details).toContain('"T"');
    expect((err as grpc.ServiceError).details).not.toContain('hunter2');
  });

  it('a C-core client (Python grpcio) gets the real status code for a huge input', async () => {
    const probe = spawnSync('python3', ['-c', 'import grpc'], { encoding: 'utf8' });
    expect(probe.status, 'needs python3 with grpcio: bash .ci/install-python-grpc.sh').toBe(0);
    // DeleteRoleRequest { name = 100,000 × "Q" }, encoded by hand: field 1, length-delimited.
    const script = [
      'import grpc',
      'name = b"Q" * 100000',
      'n, varint = len(name), b""',
      'while n > 0x7f:',
      '    varint += bytes([(n & 0x7f) | 0x80]); n >>= 7',
      'request = b"\\x0a" + varint + bytes([n]) + name',
      `ch = grpc.insecure_channel(${JSON.stringify(t.server.addr)})`,
      `call = ch.unary_unary(${JSON.stringify(svc('AccessService', 'DeleteRole'))})`,
      'try:',
      `    call(request, metadata=[("authorization", ${JSON.stringify(`Bearer ${t.adminToken}`)})], timeout=20)`,
      '    print("OK")',
      'except grpc.RpcError as e:',
      '    print(e.code().name, len(e.details() or ""))',
    ].join('\n');
    // Asynchronously: the server under test runs in this process.
    const out = await promisify(execFile)('python3', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    const [code, length] = out.stdout.trim().split(' ');
    expect(code).toBe('INVALID_ARGUMENT');
    expect(Number(length)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE);
  }, 180_000);
});
