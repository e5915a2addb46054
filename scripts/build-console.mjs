// Builds the web console (console/) into dist/console: one ES module, one stylesheet
// and index.html, nothing inline (the console's Content-Security-Policy forbids it), nothing
// from a CDN, and the icon (scripts/favicon.mjs). Run by `npm run build`; prints the sizes.
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { faviconIco, faviconSvg } from './favicon.mjs';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'console');
const out = join(root, 'dist/console');

// The page speaks proto3 JSON only, so it bundles a copy of gen/web generated without the
// binary encode/decode methods (a fifth of the bundle): same protos, same options as gen/web in
// buf.gen.yaml plus outputEncodeMethods=false, substituted for gen/web at bundle time. The UI's
// types are checked against gen/web itself (tsc -p console).
const webGen = join(root, 'gen/web');
const leanGen = join(root, 'node_modules/.cache/sg-console-gen');
const webPlugin = parse(readFileSync(join(root, 'buf.gen.yaml'), 'utf8')).plugins.find((p) => p.out === 'gen/web');
if (!webPlugin) throw new Error('buf.gen.yaml has no plugin writing gen/web');
const template = { version: 'v2', clean: true, plugins: [{ ...webPlugin, out: leanGen, opt: [...webPlugin.opt, 'outputEncodeMethods=false'] }] };
execFileSync(join(root, 'node_modules/.bin/buf'), ['generate', '--template', JSON.stringify(template)], { cwd: root, stdio: 'inherit' });
const jsonOnly = {
  name: 'json-only-gen',
  setup(b) {
    b.onResolve({ filter: /gen\/web\// }, (args) => {
      const abs = resolve(args.resolveDir, args.path);
      if (!abs.startsWith(webGen + sep)) return undefined;
      return { path: join(leanGen, abs.slice(webGen.length + 1)).replace(/\.js$/, '.ts') };
    });
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  plugins: [jsonOnly],
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
