/**
 * The four services as @bufbuild/protobuf descriptors (DescService), which the Connect library
 * serves: read from the binary FileDescriptorSet `npm run build` writes with `buf build`
 * (dist/secretgroups.binpb), from the same proto/ files as the generated code — descriptors,
 * not a third generated code output. Reading them costs ~3 MB of memory; parsing the .proto
 * files at start (protobufjs) cost ~18 MB.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFileRegistry, fromBinary, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

export const CONSOLE_SERVICES = {
  projects: 'secretgroups.v1.ProjectService',
  groups: 'secretgroups.v1.SecretGroupService',
  resolver: 'secretgroups.v1.ResolverService',
  access: 'secretgroups.v1.AccessService',
} as const;

const FILE = 'dist/secretgroups.binpb';

/** dist/secretgroups.binpb under the nearest ancestor holding it (from dist/ or from source). */
export function descriptorFile(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, FILE))) return join(dir, FILE);
    if (dirname(dir) === dir) throw new Error(`${FILE} not found above the server code: run npm run build`);
  }
}

/** The four services' descriptors, keyed as serviceHandlers keys them. */
export function consoleServices(file = descriptorFile()): Record<keyof typeof CONSOLE_SERVICES, DescService> {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(file)));
  const get = (name: string) => {
    const s = registry.getService(name);
    if (!s) throw new Error(`service ${name} not found in ${file}`);
    return s;
  };
  return {
    projects: get(CONSOLE_SERVICES.projects),
    groups: get(CONSOLE_SERVICES.groups),
    resolver: get(CONSOLE_SERVICES.resolver),
    access: get(CONSOLE_SERVICES.access),
  };
}
