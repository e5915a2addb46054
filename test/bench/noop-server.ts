/**
 * The baseline of the Resolve benchmark: a grpc-js server for the same ResolverService whose
 * Resolve does nothing but answer with bytes encoded beforehand. The bytes are the real
 * server's own answer for the requested workload (fetched before the run), so both servers
 * send exactly the same messages; the no-op skips authentication, audit and resolution.
 *
 * Usage: node noop-server.js RESPONSES.json   (prints `listening on HOST:PORT`)
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ResolverServiceService, type ResolveRequest } from '../../gen/secretgroups/v1/resolver_service.js';

const file = process.argv[2];
if (!file) throw new Error('usage: noop-server.js RESPONSES.json');
const responses = new Map<string, Buffer>(
  Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
);

const def = {
  ...ResolverServiceService,
  resolve: { ...ResolverServiceService.resolve, responseSerialize: (b: unknown) => b as Buffer },
};
const server = new grpc.Server({
  'grpc.max_receive_message_length': 8 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.max_concurrent_streams': 10_000,
});
const unimplemented = (_call: unknown, cb: (err: grpc.ServiceError) => void) =>
  cb({ code: grpc.status.UNIMPLEMENTED, details: 'no-op server', name: 'Error', message: 'no-op', metadata: new grpc.Metadata() });
server.addService(def as unknown as grpc.ServiceDefinition, {
  resolve: (call: grpc.ServerUnaryCall<ResolveRequest, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    const bytes = responses.get(call.request.workload);
    if (bytes) cb(null, bytes);
    else cb({ code: grpc.status.NOT_FOUND, details: `no response for ${call.request.workload}` });
  },
  explain: unimplemented,
  watch: (call: grpc.ServerWritableStream<unknown, unknown>) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'no-op server' }),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.forceShutdown());
