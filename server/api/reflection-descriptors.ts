/**
 * protobufjs (behind @grpc/proto-loader) names a map field's implicit entry message after the
 * field itself ("Runtime_variables", "Statuses") instead of protoc's "RuntimeVariablesEntry",
 * "StatusesEntry". protobuf-go validates that name, so grpcurl and every other Go client that
 * uses server reflection refused any service touching a map (grpcurl#519). This renames the
 * entries, and the fields' type references, in the descriptors given to the reflection service.
 */
import type * as protoLoader from '@grpc/proto-loader';
import descriptorModule from 'protobufjs/ext/descriptor/index.js';

interface MessageDescriptor {
  name?: string;
  field?: Array<{ name?: string; typeName?: string }>;
  nestedType?: MessageDescriptor[];
  options?: { mapEntry?: boolean };
}
interface FileDescriptor {
  package?: string;
  messageType?: MessageDescriptor[];
}
const FileDescriptorProto = (descriptorModule as unknown as {
  FileDescriptorProto: { decode(b: Uint8Array): FileDescriptor; encode(f: FileDescriptor): { finish(): Uint8Array } };
}).FileDescriptorProto;

/** protoc's rule: CamelCase the field name (underscores dropped, next letter upper) + "Entry". */
export function mapEntryName(field: string): string {
  let out = '';
  let upper = true;
  for (const c of field) {
    if (c === '_') upper = true;
    else {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return `${out}Entry`;
}

function fixMessage(msg: MessageDescriptor, scope: string): void {
  const fqn = `${scope}.${msg.name}`;
  for (const nested of msg.nestedType ?? []) {
    if (!nested.options?.mapEntry) continue;
    const field = (msg.field ?? []).find((f) => f.typeName === nested.name || f.typeName === `${fqn}.${nested.name}`);
    if (!field?.name) continue;
    nested.name = mapEntryName(field.name);
    field.typeName = `${fqn}.${nested.name}`;
  }
  for (const nested of msg.nestedType ?? []) fixMessage(nested, fqn);
}

/** Rewrites every file descriptor of a proto-loader package definition in place; returns it. */
export function fixMapEntryNames(pkg: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const done = new Map<Buffer, Buffer>();
  for (const def of Object.values(pkg)) {
    const d = def as { fileDescriptorProtos?: Buffer[] };
    if (!Array.isArray(d.fileDescriptorProtos)) continue;
    d.fileDescriptorProtos = d.fileDescriptorProtos.map((bin) => {
      let fixed = done.get(bin);
      if (!fixed) {
        const file = FileDescriptorProto.decode(bin);
        for (const m of file.messageType ?? []) fixMessage(m, file.package ? `.${file.package}` : '');
        fixed = Buffer.from(FileDescriptorProto.encode(file).finish());
        done.set(bin, fixed);
      }
      return fixed;
    });
  }
  return pkg;
}
