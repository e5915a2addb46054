/**
 * One watcher process of the fan-out benchmark (the parent runs several). Over IPC it is told
 * to open Watch streams on sg (raw grpc-js, several channels; asking for deltas, as the agent
 * does) or watchers on an etcd key (the
 * `etcd3` client, several client instances). It stamps every message on arrival with the
 * machine's wall clock (performance.timeOrigin + performance.now(), comparable across
 * processes) and decodes nothing until asked, so that decoding stays out of the measurement.
 */
import * as grpc from '@grpc/grpc-js';
import { Etcd3, type Watcher } from 'etcd3';
import { WatchRequest, WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { wallMs } from './lib/util.js';

export type ClientCommand =
  | { op: 'sg'; addr: string; token: string; project: string; workloads: string[]; channels: number }
  | { op: 'etcd'; endpoint: string; key: string; watchers: number; clients: number }
  | { op: 'collect'; seq: string }
  | { op: 'close' };

export type ClientEvent =
  | { ev: 'ready'; streams: number; ms: number }
  | { ev: 'collected'; times: number[] }
  | { ev: 'error'; message: string }
  | { ev: 'closed' };

const send = (e: ClientEvent) => process.send!(e);

/** Per stream: messages not yet matched, as (arrival, payload). */
interface Stream {
  inbox: { t: number; seq: () => string | undefined }[];
  matched?: { seq: string; t: number };
}
const streams: Stream[] = [];
const closers: (() => void)[] = [];

function openSg(cmd: Extract<ClientCommand, { op: 'sg' }>): void {
  const started = Date.now();
  const clients = Array.from(
    { length: cmd.channels },
    () => new grpc.Client(cmd.addr, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }),
  );
  closers.push(() => clients.forEach((c) => c.close()));
  let ready = 0;
  cmd.workloads.forEach((workload, i) => {
    const s: Stream = { inbox: [] };
    streams.push(s);
    let first = true;
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${cmd.token}`);
    // Deltas asked for, as the agent (the typed client) does.
    const req = Buffer.from(WatchRequest.encode({ project: cmd.project, workload, scope: Scope.SCOPE_RUNTIME, etag: '', tags: [], deltas: true }).finish());
    const call = clients[i % clients.length]!.makeServerStreamRequest(
      '/secretgroups.v1.ResolverService/Watch',
      (b: Buffer) => b,
      (b: Buffer) => {
        const t = wallMs();
        s.inbox.push({
          t,
          seq: () => {
            const m = WatchResponse.decode(b);
            return m.resolution?.variables.SEQ ?? m.delta?.set.SEQ;
          },
        });
        return b;
      },
      req,
      md,
      {},
    );
    call.on('data', () => {
      if (first) {
        first = false;
        if (++ready === cmd.workloads.length) send({ ev: 'ready', streams: ready, ms: Date.now() - started });
      }
    });
    call.on('error', (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) send({ ev: 'error', message: `watch ${workload}: ${e.message}` });
    });
    closers.push(() => call.cancel());
  });
}

async function openEtcd(cmd: Extract<ClientCommand, { op: 'etcd' }>): Promise<void> {
  const started = Date.now();
  const clients = Array.from(
    { length: cmd.clients },
    () => new Etcd3({ hosts: cmd.endpoint, grpcOptions: { 'grpc.use_local_subchannel_pool': 1 } as grpc.ChannelOptions }),
  );
  closers.push(() => clients.forEach((c) => c.close()));
  const watchers: Promise<Watcher>[] = [];
  for (let i = 0; i < cmd.watchers; i++) {
    const s: Stream = { inbox: [] };
    streams.push(s);
    watchers.push(
      clients[i % clients.length]!.watch()
        .key(cmd.key)
        .create()
        .then((w) => {
          w.on('put', (kv) => {
            const t = wallMs();
            s.inbox.push({ t, seq: () => kv.value.toString() });
          });
          return w;
        }),
    );
  }
  const all = await Promise.all(watchers);
  closers.push(() => all.forEach((w) => void w.cancel().catch(() => undefined)));
  send({ ev: 'ready', streams: all.length, ms: Date.now() - started });
}

/** For each stream, the arrival time of the first message carrying `seq` (-1 if none yet). */
function collect(seq: string): number[] {
  return streams.map((s) => {
    if (s.matched?.seq === seq) return s.matched.t;
    const i = s.inbox.findIndex((m) => m.seq() === seq);
    if (i < 0) return -1;
    s.matched = { seq, t: s.inbox[i]!.t };
    s.inbox.splice(0, i + 1);
    return s.matched.t;
  });
}

process.on('message', (cmd: ClientCommand) => {
  try {
    switch (cmd.op) {
      case 'sg':
        openSg(cmd);
        break;
      case 'etcd':
        openEtcd(cmd).catch((e: unknown) => send({ ev: 'error', message: String(e) }));
        break;
      case 'collect':
        send({ ev: 'collected', times: collect(cmd.seq) });
        break;
      case 'close':
        closers.splice(0).forEach((c) => c());
        streams.length = 0;
        send({ ev: 'closed' });
        break;
    }
  } catch (e) {
    send({ ev: 'error', message: String(e) });
  }
});
process.on('disconnect', () => process.exit(0));
