/**
 * The built UI (dist/console/, produced by `npm run build`): files by path, never outside the
 * directory; unknown extension-less paths get index.html (the UI routes in the browser).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The built UI, dist/console: beside the compiled server (dist/server/console), or under the
 * repository when run from source. From source, `../../console` is the UI's sources (console/,
 * no bundle), so a directory counts only with its bundle, app.js.
 */
export function defaultAssetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../../console'), join(here, '../../dist/console')];
  return candidates.find((d) => existsSync(join(d, 'index.html')) && existsSync(join(d, 'app.js'))) ?? candidates[1]!;
}

export class StaticAssets {
  private readonly root: string;

  constructor(dir: string) {
    this.root = normalize(dir).replace(/[\\/]+$/, '');
  }

  /** Answers a GET/HEAD for `pathname`. */
  serve(pathname: string, res: ServerResponse, head: boolean): void {
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return this.plain(res, 400, 'bad path');
    }
    if (rel.includes('\0') || rel.split('/').includes('..')) return this.plain(res, 404, 'not found');
    let file = normalize(join(this.root, rel));
    if (file !== this.root && !file.startsWith(this.root + sep)) return this.plain(res, 404, 'not found');
    if (!isFile(file)) {
      // Missing assets stay 404; anything else is a UI route.
      if (extname(rel) && !rel.endsWith('.html')) return this.plain(res, 404, 'not found');
      file = join(this.root, 'index.html');
    }
    if (!isFile(file)) {
      return this.plain(res, 503, 'The console assets are not built. Run `npm run build` (it builds dist/console/).');
    }
    const body = readFileSync(file);
    const isIndex = file.endsWith('.html');
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': body.byteLength,
      // Bundler output under assets/ is content-hashed; the page itself must always be fresh.
      'Cache-Control': isIndex ? 'no-store' : file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(head ? undefined : body);
  }

  private plain(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(text);
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
