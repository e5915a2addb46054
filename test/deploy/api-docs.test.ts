/**
 * docs/api.md is generated from proto/ (`npm run docs:api`): the committed file must be what
 * the protos give today, cover every service, method, message and enum, and link only to
 * headings that exist.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildImage, render } from '../../scripts/gen-api-docs.mjs';
import { ROOT } from '../helpers/server-process.js';

const image = buildImage();
const committed = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
const files = image.file.filter((f) => f.name.startsWith('secretgroups/'));

describe('docs/api.md', () => {
  it('is current: regenerating from proto/ gives the committed file (run `npm run docs:api`)', () => {
    expect(render(image) === committed, 'docs/api.md is stale: run `npm run docs:api` and commit it').toBe(true);
  });

  it('npm run docs:api -- --check agrees', () => {
    const r = spawnSync('npm', ['run', '--silent', 'docs:api', '--', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('documents every service and method, message and field, enum and value', () => {
    for (const f of files) {
      for (const s of f.service ?? []) {
        expect(committed).toContain(`## ${s.name}\n`);
        for (const m of s.method) expect(committed, `${s.name}.${m.name}`).toContain(`| \`${m.name}\` |`);
      }
      for (const m of f.messageType ?? []) {
        expect(committed).toContain(`### ${m.name}\n`);
        for (const field of m.field ?? []) expect(committed, `${m.name}.${field.name}`).toContain(`| \`${field.name}\` |`);
      }
      for (const e of f.enumType ?? []) {
        expect(committed).toContain(`### ${e.name}\n`);
        for (const v of e.value) expect(committed, `${e.name}.${v.name}`).toContain(`| \`${v.name}\` |`);
      }
    }
  });

  it('carries the proto comments', () => {
    expect(committed).toContain('A snapshot, then a new resolution whenever its etag changes');
    expect(committed).toContain('0..100; higher wins on conflicting keys.');
  });

  it('every in-page link points at a heading', () => {
    const anchors = new Set(
      [...committed.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')),
    );
    const links = [...committed.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(50);
    for (const l of links) expect(anchors, `#${l}`).toContain(l);
  });

  it('shows map fields as maps and streaming responses as streams', () => {
    expect(committed).toMatch(/\| `variables` \| 4 \| `map<string, string>` \|/);
    expect(committed).toMatch(/\| `Watch` \| \[WatchRequest\]\(#watchrequest\) \| stream \[WatchResponse\]\(#watchresponse\) \|/);
    expect(committed).not.toMatch(/VariablesEntry/);
  });
});
