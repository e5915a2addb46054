/**
 * The table that replaces Node's per-session stream Map (server/api/session-streams.ts): Map's
 * behaviour for what Node does with it, adoption on real node:http2 and grpc-js sessions, and
 * the reason it exists, measured in a child process with V8's own collections: a Map whose
 * table is in the old generation keeps every later entry alive through young-generation
 * collections; the table does not.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { serveStreamsOnHttp2 } from '../../server/api/h2-streams.js';
import { adoptSessionStreams, StreamTable } from '../../server/api/session-streams.js';
import { ROOT } from '../helpers/server-process.js';

/** Node's table of a session's streams (the private state the module replaces). */
function tableOf(session: http2.Http2Session): unknown {
  const key = Object.getOwnPropertySymbols(session).find((k) => k.description === 'state')!;
  return (session as unknown as Record<symbol, { streams: unknown }>)[key]!.streams;
}

describe('StreamTable', () => {
  it('keeps entries by stream id as a Map does', () => {
    const t = new StreamTable<string>();
    expect(t.size).toBe(0);
    expect(t.set(1, 'a').set(3, 'b')).toBe(t);
    expect(t.size).toBe(2);
    t.set(3, 'c'); // replacing is not adding
    expect(t.size).toBe(2);
    expect(t.get(3)).toBe('c');
    expect(t.has(1)).toBe(true);
    expect(t.has(5)).toBe(false);
    expect(t.get(5)).toBeUndefined();
    expect(t.delete(5)).toBe(false);
    expect(t.delete(1)).toBe(true);
    expect(t.delete(1)).toBe(false);
    expect(t.size).toBe(1);
    expect([...t]).toEqual([[3, 'c']]);
    expect([...t.keys()]).toEqual([3]);
    expect([...t.values()]).toEqual(['c']);
    t.clear();
    expect(t.size).toBe(0);
    expect([...t.entries()]).toEqual([]);
  });

  it('holds stream ids far apart (a long-lived connection) and lists them in order', () => {
    const t = new StreamTable<number>();
    for (const id of [2_147_483_647, 1, 999_999, 3]) t.set(id, id);
    expect([...t.keys()]).toEqual([1, 3, 999_999, 2_147_483_647]);
    for (const id of [1, 3, 999_999]) t.delete(id);
    expect([...t]).toEqual([[2_147_483_647, 2_147_483_647]]);
  });

  it('forEach skips entries the callback deletes before their turn (a session destroying its streams)', () => {
    const t = new StreamTable<string>();
    for (const id of [1, 3, 5, 7]) t.set(id, `s${id}`);
    const visited: number[] = [];
    const self = {};
    t.forEach(function (this: unknown, value, id, table) {
      expect(this).toBe(self);
      expect(table).toBe(t);
      expect(value).toBe(`s${id}`);
      visited.push(id);
      table.delete(id);
      if (id === 3) table.delete(5);
    }, self);
    expect(visited).toEqual([1, 3, 7]);
    expect(t.size).toBe(0);
  });

  // The measurement behind the module, as a check that it still holds on this Node: a child
  // with --expose-gc fills each structure with 10,000 entries (~16 open at a time) after a full
  // collection, with young-generation collections in between, and reports how much the old
  // generation grew. Both numbers come from V8's deterministic collections, not from timing.
  it("does not keep closed streams alive through young-generation collections, as Node's Map does", () => {
    const script = join(tmpdir(), `sg-stream-table-${process.pid}.mjs`);
    writeFileSync(
      script,
      `import v8 from 'node:v8';
const { StreamTable } = await import(process.argv[3]);
const oldUsed = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_used_size;
const table = process.argv[2] === 'map' ? new Map() : new StreamTable();
let id = 1;
for (let i = 0; i < 16; i++) table.set((id += 2), { pad: new Array(8).fill(i) });
gc(); // a full collection: the structure's storage is in the old generation now
const before = oldUsed();
const open = [];
for (let round = 0; round < 40; round++) {
  for (let i = 0; i < 250; i++) {
    table.set((id += 2), { pad: new Array(64).fill(i) });
    open.push(id);
    if (open.length > 16) table.delete(open.shift());
  }
  gc({ type: 'minor' });
}
gc({ type: 'minor' });
console.log(Math.round((oldUsed() - before) / 1024));
`,
    );
    // The built module (`npm test` builds first), as the server runs it.
    const module = pathToFileURL(join(ROOT, 'dist/server/api/session-streams.js')).href;
    const grown = (kind: string) => Number(execFileSync(process.execPath, ['--expose-gc', script, kind, module], { encoding: 'utf8' }).trim());
    let map: number, table: number;
    try {
      map = grown('map');
      table = grown('table');
    } finally {
      rmSync(script, { force: true });
    }
    // 10,000 entries of ~0.6 kB: the Map keeps nearly all of them (~5 MB), the table a few.
    expect(map).toBeGreaterThan(2_000);
    expect(table).toBeLessThan(map / 10);
  });
});

describe('adoptSessionStreams', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });

  async function h2Server(onStream: (stream: http2.ServerHttp2Stream) => void): Promise<{ client: http2.ClientHttp2Session; sessions: http2.Http2Session[] }> {
    const server = http2.createServer();
    const sessions: http2.Http2Session[] = [];
    server.on('session', (s) => sessions.push(s));
    server.on('stream', onStream);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    cleanups.push(() => {
      client.destroy();
      server.close();
    });
    return { client, sessions };
  }

  it('moves a session’s open streams into a StreamTable, once, and Node keeps using it', async () => {
    const held: http2.ServerHttp2Stream[] = [];
    const { client, sessions } = await h2Server((stream) => {
      expect(adoptSessionStreams(stream.session)).toBe(true);
      held.push(stream);
      stream.respond({ ':status': 200 });
      stream.write('open');
    });
    const requests = [0, 1, 2].map(() => client.request({ ':path': '/' }));
    await Promise.all(requests.map((r) => new Promise((ok) => r.once('data', ok))));
    const table = tableOf(sessions[0]!) as StreamTable<http2.ServerHttp2Stream>;
    expect(table).toBeInstanceOf(StreamTable);
    expect(table.size).toBe(3);
    expect([...table.values()]).toEqual(held);

    // Closing a stream takes it out; destroying the session destroys the rest through forEach.
    held[0]!.close();
    await new Promise((ok) => requests[0]!.once('close', ok));
    expect(table.size).toBe(2);
    const closed = Promise.all(requests.slice(1).map((r) => new Promise((ok) => r.once('close', ok))));
    sessions[0]!.destroy();
    await closed;
    expect(held.every((s) => s.destroyed)).toBe(true);
    expect(table.size).toBe(0);
  });

  it('leaves anything that is not a Node session alone', () => {
    expect(adoptSessionStreams(undefined)).toBe(false);
    expect(adoptSessionStreams({} as http2.Http2Session)).toBe(false);
  });

  it('is installed on the sessions of a grpc-js server with the stream hook', async () => {
    const server = new grpc.Server({ 'grpc.enable_channelz': 0 }); // as our server: the hook needs channelz off
    const definition: grpc.ServiceDefinition = {
      one: { path: '/t.T/One', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
    };
    // Served by grpc-js (no route for it here): every stream of the session passes the hook.
    server.addService(definition, { one: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, Buffer.from('ok')) });
    expect(serveStreamsOnHttp2(server, new Map(), { maxRequestBytes: 1024, maxResponseBytes: 1024 })).toBe(true);
    const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
    const sessions: http2.Http2Session[] = [];
    // grpc-js's own HTTP/2 servers (private): read only to find the session under test.
    for (const h2 of (server as unknown as { http2Servers: Map<http2.Http2Server, unknown> }).http2Servers.keys()) h2.on('session', (s) => sessions.push(s));
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    cleanups.push(() => {
      client.close();
      server.forceShutdown();
    });
    const reply = await new Promise<Buffer>((ok, fail) =>
      client.makeUnaryRequest('/t.T/One', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), (e, r) => (e ? fail(e) : ok(r!))),
    );
    expect(reply.toString()).toBe('ok');
    expect(sessions).toHaveLength(1);
    expect(tableOf(sessions[0]!)).toBeInstanceOf(StreamTable);
  });
});
