// Builds the web console (server/console/ui) into dist/console: one ES module, one stylesheet
// and index.html, nothing inline (the console's Content-Security-Policy forbids it), nothing
// from a CDN. Run by `npm run build`; prints the gzipped size reported in the README.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'server/console/ui');
const out = join(root, 'dist/console');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
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

const size = (f) => {
  const bytes = readFileSync(join(out, f));
  return `${f} ${(bytes.length / 1024).toFixed(1)} KiB (${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KiB gzipped)`;
};
if (process.env.SG_CONSOLE_BUILD_QUIET !== '1') console.error(`console: ${size('app.js')}, ${size('app.css')}`);
