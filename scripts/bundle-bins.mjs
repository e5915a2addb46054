// Bundles the two commands users run, `sg` and `sg-agent` (package.json "bin"), from tsc's
// output into dist/bin, each as three files:
//   sg.cjs           the bin: a loader that runs the bundle with V8's code cache
//   sg.bundle.cjs    the command and the packages it imports statically, minified, one script
//                    (one function of CommonJS's parameters, which only the loader calls)
//   sg.bundle.cache  the code V8 compiled for it at build time (scripts/code-cache.mjs)
// Why: start-up is a product requirement (docs/performance.md, "Start-up (issue 22)"). One
// script replaces ~35 module files with their resolution and package.json look-ups, tree-shaking
// keeps only the protobuf reader and writer of @bufbuild/protobuf, and with the code cache V8
// neither parses nor compiles what it compiled at build time. A script rather than an ES module
// because Node 20 has a code cache API for scripts (vm.Script) and none for modules.
//
// What stays outside the bundle, loaded from dist/ and node_modules as tsc and npm left them:
// - the server, which the CLI imports dynamically: `sg serve`, `sg migrate`, `sg admin` and the
//   injector run the server's own modules (they find proto/ and the console's files next to
//   themselves). The few server modules the CLI imports statically (validation, error types)
//   are bundled; DomainError is recognised across the two copies (server/domain/errors.ts);
// - packages the code loads on demand with createRequire (cli-table3, dotenv, pino,
//   node-cache) or import() (yaml): they cost nothing unless used.
// dist/cli/main.js and dist/agent/cli/main.js keep working; they are what the bundles are made of.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http2';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { WRAP_HEAD, WRAP_TAIL } from './code-cache.mjs';

const root = resolve(import.meta.dirname, '..');
const dist = join(root, 'dist');
const out = join(dist, 'bin');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The bins: name, entry (tsc output), and the arguments of the build-time run that fills the cache. */
const BINS = [
  // `--version` registers every command (each command's options and actions are compiled), so
  // the cache serves every command alike.
  { name: 'sg', entry: 'cli/main.js', warm: ['--version'] },
  // The agent's one main path, `exec`, against a stand-in server (warmUpServer): connect, Watch,
  // the first resolution, start the program, exit with its status.
  { name: 'sg-agent', entry: 'agent/cli/main.js', warm: ['exec', '--project', 'warm-up', '--workload', 'warm-up', '--', process.execPath, '-e', '0'] },
];

/**
 * A stand-in gRPC server on loopback for the build-time runs: every call succeeds; Watch sends
 * one WatchResponse carrying an empty resolution (field 1, zero length), a unary call one
 * empty message. No token is checked: it serves only the build's own child process.
 */
function warmUpServer() {
  const frame = (bytes) => Buffer.concat([Buffer.from([0, 0, 0, 0, bytes.length]), Buffer.from(bytes)]);
  const server = createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    if (String(headers[':path']).endsWith('/Watch')) stream.write(frame([0x0a, 0x00]));
    else stream.end(frame([]));
  });
  server.on('session', (session) => session.on('error', () => undefined));
  return new Promise((resolveListen) => server.listen(0, '127.0.0.1', () => resolveListen(server)));
}

/** import() of dist/server/** stays a load at run time, rewritten relative to dist/bin. */
const serverOutside = {
  name: 'server-outside',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      if (args.kind !== 'dynamic-import' || !target.startsWith(join(dist, 'server') + sep)) return undefined;
      return { path: relative(out, target).split(sep).join('/'), external: true };
    });
  },
};

/**
 * The generated messages' runtime import may be a shim that loads @bufbuild/protobuf's
 * binary-encoding.js by file path at run time (scripts/gen-light-wire.mjs); in a bundle the
 * package's own module is taken instead, tree-shaken to the reader and writer.
 */
const wireInside = {
  name: 'wire-inside',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]gen[\\/].*[\\/]wire\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes("require.resolve('@bufbuild/protobuf/wire')")) return undefined;
      return { contents: "export { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';", loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/** The bin: reads the bundle and its cache, runs it as CommonJS would run a file. */
const loader = (name) => `#!/usr/bin/env node
'use strict';
// Generated by scripts/bundle-bins.mjs: runs ${name}.bundle.cjs with the code V8 compiled for it
// at build time (${name}.bundle.cache). V8 refuses a cache made by another V8 version or with
// other flags, and the source is then compiled as usual.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');
const file = join(__dirname, '${name}.bundle.cjs');
let cachedData;
try {
  cachedData = readFileSync(join(__dirname, '${name}.bundle.cache'));
} catch {
  cachedData = undefined;
}
// The file is one function expression of CommonJS's parameters (scripts/code-cache.mjs). It
// gets this loader's require: both files sit in one directory, so they resolve alike.
const script = new Script(readFileSync(file, 'utf8'), {
  filename: file,
  cachedData,
});
script.runInThisContext()(module.exports, require, module, file, __dirname);
`;

rmSync(out, { recursive: true, force: true });
const server = await warmUpServer();
await build({
  absWorkingDir: root,
  entryPoints: Object.fromEntries(BINS.map((b) => [`${b.name}.bundle`, join(dist, b.entry)])),
  outdir: out,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  // The bundle runs as a script: import.meta is the bundle file's. Its URL is made when first
  // asked for (only on-demand package loads ask): a start does not pay for node:url.
  banner: { js: "var __sgBundle={get url(){return this.u??=require('node:url').pathToFileURL(__filename).href}};" },
  define: {
    'import.meta.url': '__sgBundle.url',
    'import.meta.dirname': '__dirname',
    // The version is known at build time: no walk up the tree for package.json at start.
    SG_BUNDLE_VERSION: JSON.stringify(pkg.version),
  },
  external: ['yaml'],
  // import() becomes require(): a script run by node:vm has no import() without an experimental
  // loader option, and Node >= 20.19 requires ES modules without top-level await, as the server's are.
  supported: { 'dynamic-import': false },
  plugins: [serverOutside, wireInside],
  logLevel: 'warning',
});

for (const bin of BINS) {
  const bundle = join(out, `${bin.name}.bundle.cjs`);
  // The entry's "#!" line would sit inside the wrapper function: a syntax error there.
  const text = readFileSync(bundle, 'utf8').replace(/^#![^\n]*\n/, '');
  if (/\bimport\(/.test(text)) throw new Error(`${bin.name}: import() left in the bundle; a vm script cannot run it`);
  writeFileSync(bundle, WRAP_HEAD + text + WRAP_TAIL);
  const binFile = join(out, `${bin.name}.cjs`);
  writeFileSync(binFile, loader(bin.name));
  chmodSync(binFile, 0o755);
  const made = await runChild(process.execPath, [join(root, 'scripts/code-cache.mjs'), bundle, join(out, `${bin.name}.bundle.cache`), ...bin.warm]);
  if (made !== 0) throw new Error(`code cache of ${bin.name}: exit ${made}`);
}
server.close();

/** Runs the build-time child with an environment of its own (the stand-in server, no TLS) and resolves its exit status. */
function runChild(cmd, args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SG_')));
  Object.assign(env, { SG_ADDR: `127.0.0.1:${server.address().port}`, SG_TOKEN: 'build-time-warm-up', SG_LOG_LEVEL: 'warn' });
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
    child.on('error', fail);
    child.on('exit', (code, signal) => done(code ?? signal));
  });
}
