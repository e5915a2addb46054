/**
 * docs/architecture.md stays true to the tree: its diagrams are mermaid blocks of known types
 * (without the characters that end a mermaid statement early), and every file or directory it
 * points at exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.js';

const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
const diagrams = [...doc.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('docs/architecture.md', () => {
  it('has the component diagram, the Resolve and Watch sequences and the safeguards diagram', () => {
    expect(diagrams.length).toBeGreaterThanOrEqual(4);
    for (const d of diagrams) expect(d.split('\n')[0]).toMatch(/^(flowchart (LR|TB|TD)|sequenceDiagram)$/);
    expect(doc).toMatch(/## A Resolve, step by step/);
    expect(doc).toMatch(/## A Watch, and how changes reach it/);
  });

  it('sequence diagrams contain no raw semicolons (mermaid would end the message there)', () => {
    for (const d of diagrams.filter((x) => x.startsWith('sequenceDiagram'))) expect(d).not.toContain(';');
  });

  it('flowchart node ids used in edges are declared', () => {
    for (const d of diagrams.filter((x) => x.startsWith('flowchart'))) {
      const declared = new Set([...d.matchAll(/^\s*(\w+)\s*[[(]/gm)].map((m) => m[1]));
      const edges = d
        .split('\n')
        .filter((l) => l.includes('-->'))
        .map((l) => [l, /^\s*(\w+)/.exec(l)?.[1], /-->\s*(\w+)(?!.*-->)/.exec(l)?.[1]] as const);
      expect(edges.length).toBeGreaterThan(0);
      for (const [line, from, to] of edges) {
        expect(from, line).toBeDefined();
        expect(to, line).toBeDefined();
        // A node declared on the edge line itself (`A --> B["..."]`) counts as declared.
        expect(declared.has(from!) || new RegExp(`^\\s*${from}\\s*[[(]`).test(line), `${from} in: ${line}`).toBe(true);
        expect(declared.has(to!) || new RegExp(`-->\\s*${to}\\s*[[(]`).test(line), `${to} in: ${line}`).toBe(true);
      }
    }
  });

  it('names the five rooms of the code, each an existing top-level folder', () => {
    const section = doc.slice(doc.indexOf('## The rooms of the code'), doc.indexOf('## The rooms of the server'));
    expect(section.length).toBeGreaterThan(0);
    for (const room of ['server/', 'cli/', 'client/', 'agent/', 'console/']) {
      expect(section, room).toContain(`\`${room}\``);
      expect(existsSync(join(ROOT, room)), room).toBe(true);
    }
  });

  it('every path it names exists', () => {
    const paths = [...doc.matchAll(/`((?:server|cli|client|console|agent|docs|deploy|proto|test)\/[\w./-]*|SECURITY\.md|Dockerfile)`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(10);
    for (const p of paths) expect(existsSync(join(ROOT, p)), p).toBe(true);
  });
});
