/**
 * The four services as @bufbuild/protobuf descriptors (DescService), which the Connect library
 * serves: built at start from the same proto/ files reflection reads (protobufjs, through
 * @grpc/proto-loader), so there is no third generated output. protobufjs leaves type names
 * relative to their scope and json_name unset; both are completed here as protoc would.
 */
import { create, createFileRegistry, fromBinary, type DescService } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../api/server.js';

const PROTO_FILES = ['project_service', 'secret_group_service', 'resolver_service', 'access_service'].map((f) => `secretgroups/v1/${f}.proto`);
export const CONSOLE_SERVICES = {
  projects: 'secretgroups.v1.ProjectService',
  groups: 'secretgroups.v1.SecretGroupService',
  resolver: 'secretgroups.v1.ResolverService',
  access: 'secretgroups.v1.AccessService',
} as const;

/** protoc's json_name: underscores dropped, the letter after one upper-cased. */
const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()).replace(/_/g, '');

function qualify(files: FileDescriptorProto[]): void {
  const known = new Set<string>();
  const walk = (scope: string, messages: DescriptorProto[], enums: { name: string }[]) => {
    for (const e of enums) known.add(`${scope}.${e.name}`);
    for (const m of messages) {
      known.add(`${scope}.${m.name}`);
      walk(`${scope}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  for (const f of files) walk(f.package ? `.${f.package}` : '', f.messageType, f.enumType);
  // As protoc resolves a relative name: the innermost enclosing scope that declares it.
  const resolve = (scope: string, name: string) => {
    if (name.startsWith('.')) return name;
    for (let s = scope; ; s = s.slice(0, s.lastIndexOf('.'))) {
      if (known.has(`${s}.${name}`)) return `${s}.${name}`;
      if (!s) throw new Error(`proto type ${name} not found from ${scope}`);
    }
  };
  const fix = (scope: string, m: DescriptorProto) => {
    const own = `${scope}.${m.name}`;
    for (const field of m.field) {
      if (field.typeName) field.typeName = resolve(own, field.typeName);
      if (!field.jsonName) field.jsonName = camel(field.name);
    }
    for (const nested of m.nestedType) fix(own, nested);
  };
  for (const f of files) {
    const pkg = f.package ? `.${f.package}` : '';
    for (const m of f.messageType) fix(pkg, m);
    for (const s of f.service) {
      for (const method of s.method) {
        method.inputType = resolve(pkg, method.inputType);
        method.outputType = resolve(pkg, method.outputType);
      }
    }
  }
}

/** The four services' descriptors, keyed as serviceHandlers keys them. */
export function consoleServices(protoDir = PROTO_DIR): Record<keyof typeof CONSOLE_SERVICES, DescService> {
  const pkg = protoLoader.loadSync(PROTO_FILES, { includeDirs: [protoDir], keepCase: true });
  const files = new Map<string, FileDescriptorProto>();
  for (const def of Object.values(pkg)) {
    for (const bytes of (def as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      files.set(file.name, file);
    }
  }
  qualify([...files.values()]);
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...files.values()] }));
  const get = (name: string) => {
    const s = registry.getService(name);
    if (!s) throw new Error(`service ${name} not found in ${protoDir}`);
    return s;
  };
  return {
    projects: get(CONSOLE_SERVICES.projects),
    groups: get(CONSOLE_SERVICES.groups),
    resolver: get(CONSOLE_SERVICES.resolver),
    access: get(CONSOLE_SERVICES.access),
  };
}
