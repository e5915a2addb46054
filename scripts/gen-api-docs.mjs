#!/usr/bin/env node
/**
 * `npm run docs:api` — writes docs/api.md, the gRPC API reference, from the .proto files and
 * their comments. The protos are compiled by buf (the same compiler `npm run gen` uses) into an
 * image with source info, so comments, types and maps come from a real parser, not a regex.
 *
 *   node scripts/gen-api-docs.mjs           write docs/api.md
 *   node scripts/gen-api-docs.mjs --check   exit 1 if docs/api.md is not what the protos give
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'docs/api.md');

// Field numbers of descriptor.proto, used in SourceCodeInfo paths.
const FILE_MESSAGE = 4;
const FILE_ENUM = 5;
const FILE_SERVICE = 6;
const MESSAGE_FIELD = 2;
const MESSAGE_NESTED = 3;
const MESSAGE_ENUM = 4;
const ENUM_VALUE = 2;
const SERVICE_METHOD = 2;

const SCALARS = {
  TYPE_DOUBLE: 'double',
  TYPE_FLOAT: 'float',
  TYPE_INT64: 'int64',
  TYPE_UINT64: 'uint64',
  TYPE_INT32: 'int32',
  TYPE_FIXED64: 'fixed64',
  TYPE_FIXED32: 'fixed32',
  TYPE_BOOL: 'bool',
  TYPE_STRING: 'string',
  TYPE_BYTES: 'bytes',
  TYPE_UINT32: 'uint32',
  TYPE_SFIXED32: 'sfixed32',
  TYPE_SFIXED64: 'sfixed64',
  TYPE_SINT32: 'sint32',
  TYPE_SINT64: 'sint64',
};

/** The buf image of proto/ as JSON (FileDescriptorSet with source info). */
export function buildImage() {
  const buf = join(ROOT, 'node_modules/.bin/buf');
  if (!existsSync(buf)) throw new Error('node_modules/.bin/buf not found: run npm ci');
  const r = spawnSync(buf, ['build', '-o', '-#format=json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`buf build failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** GitHub's heading anchor for a heading text. */
const anchor = (text) => text.toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
const cell = (text) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').trim();
/** Comment text: leading comment, then trailing; indentation of continuation lines removed. */
function commentOf(comments, path) {
  const loc = comments.get(path.join(','));
  if (!loc) return '';
  return [loc.leadingComments, loc.trailingComments]
    .filter(Boolean)
    .map((c) => c.split('\n').map((l) => l.replace(/^ /, '')).join('\n').trim())
    .filter(Boolean)
    .join('\n\n');
}

/** Renders docs/api.md from a buf image. Deterministic: same protos, same bytes. */
export function render(image) {
  const files = image.file
    .filter((f) => f.name.startsWith('secretgroups/'))
    .sort((a, b) => a.name.localeCompare(b.name));
  const pkg = files[0]?.package ?? '';
  const types = new Map(); // ".pkg.Name" -> { kind, name, file }
  const services = [];
  const messages = [];
  const enums = [];

  for (const f of files) {
    const comments = new Map((f.sourceCodeInfo?.location ?? []).filter((l) => l.path).map((l) => [l.path.join(','), l]));
    const visitMessage = (m, path, prefix) => {
      const name = prefix ? `${prefix}.${m.name}` : m.name;
      if (m.options?.mapEntry) {
        types.set(`.${f.package}.${name}`, { kind: 'map', message: m });
        return;
      }
      types.set(`.${f.package}.${name}`, { kind: 'message', name });
      messages.push({ file: f.name, name, message: m, comment: commentOf(comments, path), fieldComment: (j) => commentOf(comments, [...path, MESSAGE_FIELD, j]) });
      (m.nestedType ?? []).forEach((n, k) => visitMessage(n, [...path, MESSAGE_NESTED, k], name));
      (m.enumType ?? []).forEach((e, k) => visitEnum(e, [...path, MESSAGE_ENUM, k], name));
    };
    const visitEnum = (e, path, prefix) => {
      const name = prefix ? `${prefix}.${e.name}` : e.name;
      types.set(`.${f.package}.${name}`, { kind: 'enum', name });
      enums.push({ file: f.name, name, enumType: e, comment: commentOf(comments, path), valueComment: (j) => commentOf(comments, [...path, ENUM_VALUE, j]) });
    };
    (f.messageType ?? []).forEach((m, i) => visitMessage(m, [FILE_MESSAGE, i], ''));
    (f.enumType ?? []).forEach((e, i) => visitEnum(e, [FILE_ENUM, i], ''));
    (f.service ?? []).forEach((s, i) =>
      services.push({ file: f.name, service: s, comment: commentOf(comments, [FILE_SERVICE, i]), methodComment: (j) => commentOf(comments, [FILE_SERVICE, i, SERVICE_METHOD, j]) }),
    );
  }

  const link = (typeName) => {
    const t = types.get(typeName);
    if (!t) return `\`${typeName.replace(/^\./, '')}\``;
    return `[${t.name}](#${anchor(t.name)})`;
  };
  // Scalars in code spans; `<` and `>` outside them escaped, or Markdown takes them for HTML.
  const fieldType = (field) => {
    const repeated = field.label === 'LABEL_REPEATED' ? 'repeated ' : '';
    if (field.type === 'TYPE_MESSAGE' || field.type === 'TYPE_ENUM') {
      const t = types.get(field.typeName);
      if (t?.kind === 'map') {
        const [k, v] = t.message.field;
        return v.typeName ? `map&lt;${SCALARS[k.type]}, ${link(v.typeName)}&gt;` : `\`map<${SCALARS[k.type]}, ${SCALARS[v.type]}>\``;
      }
      return `${repeated}${link(field.typeName)}`;
    }
    return `\`${repeated}${SCALARS[field.type] ?? field.type}\``;
  };

  const out = [];
  const w = (line = '') => out.push(line);
  w('# API reference');
  w();
  w('<!-- Generated from proto/ by `npm run docs:api` (scripts/gen-api-docs.mjs). Do not edit by hand:');
  w('     change the comments in the .proto files and regenerate; a test checks this file is current. -->');
  w();
  w(`Package \`${pkg}\`, gRPC over HTTP/2 (TLS or mTLS; plaintext only on loopback or with`);
  w('`sg serve --insecure`). Every RPC below needs an access token in the request metadata:');
  w();
  w('```');
  w('authorization: Bearer <token>');
  w('```');
  w();
  w('Missing or unknown tokens get `UNAUTHENTICATED`; a token whose role does not allow the call gets');
  w('`PERMISSION_DENIED`. The server also serves, without a token, the standard');
  w('[`grpc.health.v1.Health`](https://github.com/grpc/grpc/blob/master/doc/health-checking.md)');
  w('(overall and per service name) and server reflection, so generic tools work:');
  w();
  w('<!-- test: skip: needs grpcurl and grpc-health-probe at the default address; test/interop/grpcurl.test.ts makes these calls against a test server -->');
  w('```sh');
  w('grpcurl -plaintext 127.0.0.1:50051 list');
  w('grpcurl -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check');
  w('grpc-health-probe -addr 127.0.0.1:50051');
  w(`grpcurl -plaintext -H "authorization: Bearer $SG_TOKEN" \\`);
  w(`  -d '{"project": "shop", "workload": "api"}' 127.0.0.1:50051 ${pkg}.ResolverService/Resolve`);
  w('```');
  w();
  w('Errors are gRPC status codes with a one-line message naming the field or object:');
  w('`INVALID_ARGUMENT` (validation), `NOT_FOUND`, `ALREADY_EXISTS`, `ABORTED` (a stale');
  w('`expected_revision`: re-read and retry), `FAILED_PRECONDITION`, `PERMISSION_DENIED`,');
  w('`UNAUTHENTICATED`, `RESOURCE_EXHAUSTED` (size limits), `UNAVAILABLE` (store down; retry).');
  w('Values never appear in error messages. A TypeScript client is exported as');
  w('`secret-groups/client`; other languages generate one from `proto/`.');
  w();
  w('## Contents');
  w();
  for (const s of services) w(`- [${s.service.name}](#${anchor(s.service.name)})`);
  w(`- [Messages](#messages)`);
  w(`- [Enums](#enums)`);
  w();

  for (const s of services) {
    w(`## ${s.service.name}`);
    w();
    w(`\`${pkg}.${s.service.name}\` — \`proto/${s.file}\``);
    w();
    if (s.comment) {
      w(s.comment);
      w();
    }
    w('| Method | Request | Response | Description |');
    w('|---|---|---|---|');
    s.service.method.forEach((m, j) => {
      const req = `${m.clientStreaming ? 'stream ' : ''}${link(m.inputType)}`;
      const res = `${m.serverStreaming ? 'stream ' : ''}${link(m.outputType)}`;
      w(`| \`${m.name}\` | ${req} | ${res} | ${cell(s.methodComment(j))} |`);
    });
    w();
  }

  w('## Messages');
  w();
  const byFile = (a, b) => a.file.localeCompare(b.file) || 0;
  for (const m of [...messages].sort(byFile)) {
    w(`### ${m.name}`);
    w();
    w(`\`proto/${m.file}\``);
    w();
    if (m.comment) {
      w(m.comment);
      w();
    }
    const fields = m.message.field ?? [];
    if (fields.length === 0) {
      w('No fields.');
      w();
      continue;
    }
    w('| Field | Number | Type | Description |');
    w('|---|---|---|---|');
    fields.forEach((f, j) => {
      const oneof = f.oneofIndex !== undefined && !f.proto3Optional ? m.message.oneofDecl[f.oneofIndex].name : undefined;
      const optional = m.name.startsWith('Update') ? 'Optional: absent leaves it unchanged.' : 'Optional: presence is tracked.';
      const notes = [f.proto3Optional ? optional : '', oneof ? `One of \`${oneof}\`.` : ''].filter(Boolean).join(' ');
      const desc = [cell(m.fieldComment(j)), notes].filter(Boolean).join(' ');
      w(`| \`${f.name}\` | ${f.number} | ${fieldType(f)} | ${desc} |`);
    });
    w();
  }

  w('## Enums');
  w();
  for (const e of [...enums].sort(byFile)) {
    w(`### ${e.name}`);
    w();
    w(`\`proto/${e.file}\``);
    w();
    if (e.comment) {
      w(e.comment);
      w();
    }
    w('| Value | Number | Description |');
    w('|---|---|---|');
    e.enumType.value.forEach((v, j) => w(`| \`${v.name}\` | ${v.number} | ${cell(e.valueComment(j))} |`));
    w();
  }
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

function main() {
  const text = render(buildImage());
  if (process.argv.includes('--check')) {
    const current = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
    if (current !== text) {
      console.error('docs/api.md is out of date with proto/: run `npm run docs:api` and commit it');
      process.exit(1);
    }
    return;
  }
  writeFileSync(OUT, text);
  console.log(`wrote ${OUT}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
