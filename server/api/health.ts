/**
 * grpc.health.v1.Health (Check, Watch, List) with a hand-written codec of its three small
 * messages. The grpc-health-check package does the same but compiles health.proto with
 * proto-loader when it is imported, which would load protobufjs into every server for one
 * string field and one enum; behaviour (statuses, NOT_FOUND, SERVICE_UNKNOWN, the 100-service
 * List limit) follows that package.
 */
import * as grpc from '@grpc/grpc-js';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
const STATUS_NUMBERS: Record<ServingStatus, number> = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 };
const LIST_LIMIT = 100;

/**
 * HealthCheckRequest { string service = 1; } (HealthListRequest is empty: service ''). An
 * object, not the bare string: grpc-js takes a falsy request for a missing one.
 */
function decodeRequest(bytes: Buffer): { service: string } {
  const r = new BinaryReader(bytes);
  let service = '';
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === 2) service = r.string();
    else r.skip(wireType);
  }
  return { service };
}

/** HealthCheckResponse { ServingStatus status = 1; } */
const encodeStatus = (status: ServingStatus, w = new BinaryWriter()) => (STATUS_NUMBERS[status] ? w.uint32(8).int32(STATUS_NUMBERS[status]) : w);

/** HealthListResponse { map<string, HealthCheckResponse> statuses = 1; } */
function encodeList(statuses: Map<string, ServingStatus>): Uint8Array {
  const w = new BinaryWriter();
  for (const [service, status] of statuses) {
    w.uint32(10).fork();
    w.uint32(10).string(service);
    encodeStatus(status, w.uint32(18).fork()).join();
    w.join();
  }
  return w.finish();
}

const method = (name: string, responseStream: boolean, serialize: (v: never) => Buffer) => ({
  path: `/grpc.health.v1.Health/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: (v: Buffer) => v,
  requestDeserialize: decodeRequest,
  responseSerialize: serialize,
  responseDeserialize: (b: Buffer) => b,
});

const toBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

const HEALTH_SERVICE = {
  check: method('Check', false, (s: ServingStatus) => toBuffer(encodeStatus(s).finish())),
  watch: method('Watch', true, (s: ServingStatus) => toBuffer(encodeStatus(s).finish())),
  list: method('List', false, (m: Map<string, ServingStatus>) => toBuffer(encodeList(m))),
} as unknown as grpc.ServiceDefinition;

export class Health {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(s: ServingStatus) => void>>();

  constructor(initial: Record<string, ServingStatus> = {}) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const w of this.watchers.get(service) ?? []) w(status);
  }

  addToServer(server: grpc.Server): void {
    server.addService(HEALTH_SERVICE, {
      check: (call: grpc.ServerUnaryCall<{ service: string }, ServingStatus>, cb: grpc.sendUnaryData<ServingStatus>) => {
        const status = this.statuses.get(call.request.service);
        if (status) cb(null, status);
        else cb({ code: grpc.status.NOT_FOUND, details: `Health status unknown for service ${call.request.service}` });
      },
      watch: (call: grpc.ServerWritableStream<{ service: string }, ServingStatus>) => {
        const { service } = call.request;
        const watcher = (s: ServingStatus) => void call.write(s);
        let set = this.watchers.get(service);
        if (!set) this.watchers.set(service, (set = new Set()));
        set.add(watcher);
        call.on('cancelled', () => {
          set.delete(watcher);
          if (!set.size) this.watchers.delete(service);
        });
        call.write(this.statuses.get(service) ?? 'SERVICE_UNKNOWN');
      },
      list: (_call: grpc.ServerUnaryCall<{ service: string }, Map<string, ServingStatus>>, cb: grpc.sendUnaryData<Map<string, ServingStatus>>) => {
        if (this.statuses.size > LIST_LIMIT) cb({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Too many services to list.' });
        else cb(null, this.statuses);
      },
    });
  }
}
