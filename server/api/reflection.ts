/**
 * Server reflection (grpc.reflection.v1 and v1alpha), loaded at its first call. Reflection
 * needs proto-loader, protobufjs and a compiled package definition of every proto: several MB
 * of heap that a server answering agents never uses. The two services are registered at start
 * with pass-through codecs; the first ServerReflectionInfo stream loads @grpc/reflection,
 * captures its handlers and message codecs, and every stream is bridged to them.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';

const SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
const METHOD = 'ServerReflectionInfo';
const PROTO_FILES = ['project_service', 'secret_group_service', 'resolver_service', 'access_service'].map((f) => `secretgroups/v1/${f}.proto`);

interface Captured {
  method: grpc.MethodDefinition<unknown, unknown>;
  handler: (stream: EventEmitter) => void;
}

const passThrough = (b: Buffer) => b;

/** Loads @grpc/reflection for our protos (plus health) and captures what it would register. */
async function loadReflection(protoDir: string): Promise<Map<string, Captured>> {
  const [protoLoader, { ReflectionService }, { fixMapEntryNames }] = await Promise.all([
    import('@grpc/proto-loader'),
    import('@grpc/reflection'),
    import('./reflection-descriptors.js'),
  ]);
  // health.proto ships with grpc-health-check (its package root holds proto/health/v1).
  const healthRoot = join(dirname(createRequire(import.meta.url).resolve('grpc-health-check')), '../../proto');
  const pkg = protoLoader.loadSync([...PROTO_FILES, 'health/v1/health.proto'], { includeDirs: [protoDir, healthRoot], keepCase: true });
  const captured = new Map<string, Captured>();
  const recorder = {
    addService(def: grpc.ServiceDefinition, impl: Record<string, unknown>) {
      for (const [name, method] of Object.entries(def)) {
        const handler = (impl[name] ?? impl[method.originalName ?? '']) as Captured['handler'];
        captured.set(method.path, { method, handler });
      }
    },
  };
  new ReflectionService(fixMapEntryNames(pkg)).addToServer(recorder as unknown as grpc.Server);
  return captured;
}

/** Registers both reflection services; nothing is loaded until a client calls one. */
export function addLazyReflection(server: grpc.Server, protoDir: string): void {
  let loading: Promise<Map<string, Captured>> | undefined;
  for (const service of SERVICES) {
    const path = `/${service}/${METHOD}`;
    const definition = {
      [METHOD]: { path, requestStream: true, responseStream: true, requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough },
    } as grpc.ServiceDefinition;
    server.addService(definition, {
      [METHOD]: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        // Until the listeners below are attached the call stays paused: requests wait, none is lost.
        (loading ??= loadReflection(protoDir)).then(
          (captured) => bridge(call, captured.get(path)!),
          () => call.emit('error', { code: grpc.status.INTERNAL, details: 'server reflection is unavailable' }),
        );
      },
    });
  }
}

/** Feeds decoded requests to the reflection handler and encodes what it writes. */
function bridge(call: grpc.ServerDuplexStream<Buffer, Buffer>, { method, handler }: Captured): void {
  const stream = Object.assign(new EventEmitter(), {
    write: (message: unknown) => call.write(method.responseSerialize(message)),
    end: () => call.end(),
  });
  handler(stream);
  call.on('data', (bytes: Buffer) => {
    let request: unknown;
    try {
      request = method.requestDeserialize(bytes);
    } catch {
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'malformed reflection request' });
      return;
    }
    stream.emit('data', request);
  });
  call.on('end', () => stream.emit('end'));
}
