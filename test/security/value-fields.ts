/**
 * Which RPCs can answer with a value, read from the service definitions themselves (the
 * descriptors `npm run build` writes from proto/), not from a list kept by hand: an RPC whose
 * answer type holds, at any depth, a `bytes` field, a `map<string, string>`, or a string field
 * named like a value (`value`, `*_values`, `content`, `secret`, `password`, …). A new RPC that
 * returns a group, a workload, an addon or a resolution is found here whatever its name, so the
 * authorization matrix must exercise it with a secret canary and find its read record.
 */
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { consoleServices } from '../../server/console/descriptors.js';

const VALUE_NAME = /(^|_)(value|values|content|contents|secret|secrets|password|passwords)$/;

const carriesValue = (scalar: ScalarType, name: string) => scalar === ScalarType.BYTES || (scalar === ScalarType.STRING && VALUE_NAME.test(name));

/** The paths (`Message.field>Message.field`) through which `msg` can hold a value. */
export function valueFieldsOf(msg: DescMessage, seen: ReadonlySet<string> = new Set()): string[] {
  if (seen.has(msg.typeName)) return [];
  const inner = new Set(seen).add(msg.typeName);
  const out: string[] = [];
  const at = (f: DescField) => `${msg.name}.${f.name}`;
  for (const f of msg.fields) {
    switch (f.fieldKind) {
      case 'list':
        if (f.listKind === 'message') out.push(...valueFieldsOf(f.message, inner).map((p) => `${at(f)}>${p}`));
        else if (f.listKind === 'scalar' && carriesValue(f.scalar, f.name)) out.push(at(f));
        break;
      case 'scalar':
        if (carriesValue(f.scalar, f.name)) out.push(at(f));
        break;
      case 'map':
        if (f.mapKind === 'message') out.push(...valueFieldsOf(f.message, inner).map((p) => `${at(f)}>${p}`));
        else if (f.mapKind === 'scalar' && (f.scalar === ScalarType.STRING || f.scalar === ScalarType.BYTES)) out.push(at(f));
        break;
      case 'message':
        out.push(...valueFieldsOf(f.message, inner).map((p) => `${at(f)}>${p}`));
        break;
      case 'enum':
        break;
    }
  }
  return out;
}

/** Every RPC of the four services whose answer can hold a value, by method name, sorted. */
export function rpcsAnsweringValues(): string[] {
  return Object.values(consoleServices())
    .flatMap((s) => s.methods)
    .filter((m) => valueFieldsOf(m.output).length > 0)
    .map((m) => m.name)
    .sort();
}
