// Builds the web console (console/) into dist/console: one ES module, one stylesheet
// and index.html, nothing inline (the console's Content-Security-Policy forbids it), nothing
// from a CDN, and the icon (scripts/favicon.mjs). Run by `npm run build`; prints the sizes.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { faviconIco, faviconSvg } from './favicon.mjs';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'console');
const out = join(root, 'dist/console');

// The page uses the same generated messages as the CLI (gen/light). Their runtime import is
// a Node-only shim (scripts/gen-light-wire.mjs) that loads the protobuf reader and writer by
// file path; the bundle takes the same file (the ES module build) without the shim.
const browserWire = {
  name: 'browser-wire',
  setup(b) {
    b.onResolve({ filter: /\/wire\.js$/ }, async (args) => {
      if (resolve(args.resolveDir, args.path) !== join(root, 'gen/light/wire.js')) return undefined;
      const wire = await b.resolve('@bufbuild/protobuf/wire', { kind: args.kind, resolveDir: root });
      return { path: join(dirname(wire.path), 'binary-encoding.js') };
    });
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  plugins: [browserWire],
  entryPoints: { app: join(src, 'main.tsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outdir: out,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: root,
});
copyFileSync(join(src, 'index.html'), join(out, 'index.html'));
writeFileSync(join(out, 'favicon.svg'), faviconSvg());
writeFileSync(join(out, 'favicon.ico'), faviconIco());

const size = (f) => {
  const bytes = readFileSync(join(out, f));
  return `${f} ${(bytes.length / 1024).toFixed(1)} KiB (${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KiB gzipped)`;
};
if (process.env.SG_CONSOLE_BUILD_QUIET !== '1') console.error(`console: ${size('app.js')}, ${size('app.css')}`);
