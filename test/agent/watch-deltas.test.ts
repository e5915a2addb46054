/**
 * The typed client's side of Watch deltas, against a scripted node:http2 gRPC server: what it
 * asks for, how it resumes from a held resolution, and that a delta it cannot apply makes it
 * start again from a whole resolution instead of handing out a wrong one.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type WatchEvent } from '../../client/index.js';
import { WatchRequest, WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import type { Resolution } from '../../gen/secretgroups/v1/resources.js';

function frame(msg: Uint8Array): Buffer {
  const f = Buffer.alloc(5 + msg.length);
  f.writeUInt32BE(msg.length, 1);
  Buffer.from(msg).copy(f, 5);
  return f;
}

function resolution(variables: Record<string, string>, etag: string): Resolution {
  return { project: 'shop', workload: 'api', scope: 1, variables, files: [], etag, conflicts: [] };
}

/** Answers the n-th Watch call with script[n]'s messages and keeps the stream open. */
async function scriptedServer(script: WatchResponse[][]) {
  const requests: WatchRequest[] = [];
  const server = http2.createServer();
  server.on('stream', (stream) => {
    const parts: Buffer[] = [];
    stream.on('error', () => undefined); // the client cancels its calls
    stream.on('data', (d: Buffer) => {
      parts.push(d);
      const all = Buffer.concat(parts);
      if (all.length < 5 || all.length < 5 + all.readUInt32BE(1)) return;
      const call = requests.push(WatchRequest.decode(all.subarray(5))) - 1;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      for (const m of script[call] ?? []) stream.write(frame(WatchResponse.encode(m).finish()));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

async function events(addr: string, n: number, opts: { held?: Resolution; etag?: string } = {}): Promise<WatchEvent[]> {
  const client = createClient({ addr, token: 'sg_test', retry: () => ({ retry: true, delayMs: 10 }) });
  const abort = new AbortController();
  const out: WatchEvent[] = [];
  try {
    for await (const ev of client.watch({ project: 'shop', workload: 'api' }, { ...opts, signal: abort.signal })) {
      out.push(ev);
      if (out.length === n) abort.abort();
    }
  } finally {
    client.close();
  }
  return out;
}

describe('typed client: Watch deltas', () => {
  const r1 = resolution({ A: '1', B: '2' }, 'e1');

  it('asks for deltas and applies one to the resolution it was sent', async () => {
    const srv = await scriptedServer([[{ resolution: r1 }, { delta: { baseEtag: 'e1', etag: 'e2', set: { A: 'changed', C: '3' }, removed: ['B'] } }]]);
    stop = srv.close;
    const got = await events(srv.addr, 2);
    expect(srv.requests[0]).toMatchObject({ deltas: true, etag: '' });
    expect(got[1]).toEqual({ type: 'resolution', resolution: { ...r1, variables: { A: 'changed', C: '3' }, etag: 'e2' } });
  });

  it('a delta from an etag it does not hold: no event from it, and a reconnect for a whole resolution', async () => {
    const srv = await scriptedServer([
      [{ resolution: r1 }, { delta: { baseEtag: 'e-other', etag: 'e9', set: { A: 'wrong' }, removed: [] } }],
      [{ resolution: r1 }, { delta: { baseEtag: 'e1', etag: 'e2', set: { A: 'right' }, removed: [] } }],
    ]);
    stop = srv.close;
    const got = await events(srv.addr, 3);
    expect(srv.requests).toHaveLength(2);
    expect(srv.requests[1]).toMatchObject({ deltas: true, etag: '' }); // nothing held: a whole one first
    expect(got.map((e) => e.type)).toEqual(['resolution', 'unchanged', 'resolution']);
    expect(got[2]).toEqual({ type: 'resolution', resolution: { ...r1, variables: { A: 'right', B: '2' }, etag: 'e2' } });
    expect(JSON.stringify(got)).not.toContain('wrong');
  });

  it('resumes from a held resolution: its etag is sent, and the first change may be a delta from it', async () => {
    const srv = await scriptedServer([[{ unchanged: { etag: 'e1' } }, { delta: { baseEtag: 'e1', etag: 'e2', set: { B: 'new' }, removed: [] } }]]);
    stop = srv.close;
    const got = await events(srv.addr, 2, { held: r1 });
    expect(srv.requests[0]).toMatchObject({ deltas: true, etag: 'e1' });
    expect(got).toEqual([
      { type: 'unchanged', etag: 'e1' },
      { type: 'resolution', resolution: { ...r1, variables: { A: '1', B: 'new' }, etag: 'e2' } },
    ]);
  });

  it('with only an etag to resume from, it asks for a whole resolution and still reports `unchanged`', async () => {
    const srv = await scriptedServer([[{ resolution: r1 }]]);
    stop = srv.close;
    const got = await events(srv.addr, 1, { etag: 'e1' });
    expect(srv.requests[0]).toMatchObject({ deltas: true, etag: '' });
    expect(got).toEqual([{ type: 'unchanged', etag: 'e1' }]);
  });
});
