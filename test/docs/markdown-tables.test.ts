/**
 * The Markdown documents render as written: every table row has as many cells as its header
 * (a row broken by a real line break, or a cell split by a stray `|`, changes the count), and
 * no document holds a raw tab or control character (an escape such as `\t` written out by a
 * tool that expanded it). Fenced code blocks are skipped for the table check only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.js';

const DOCS = ['README.md', 'SECURITY.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

/** Cells of a table line: split on `|` not escaped by a backslash (GFM splits inside code spans too). */
export function cells(line: string): number {
  const body = line.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '');
  return body.split(/(?<!\\)\|/).length;
}

const DELIMITER = /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;

/** "file:line: problem" for every malformed table row. */
export function tableProblems(text: string, file: string): string[] {
  const lines = text.split('\n');
  const problems: string[] = [];
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const f = /^\s*(```+|~~~+)/.exec(line);
    if (f) {
      if (!fence) fence = f[1]![0]!.repeat(3);
      else if (line.trim().startsWith(fence)) fence = undefined;
      continue;
    }
    if (fence || !line.trimStart().startsWith('|') || !DELIMITER.test(lines[i + 1] ?? '')) continue;
    const want = cells(line);
    if (cells(lines[i + 1]!) !== want) problems.push(`${file}:${i + 2}: the delimiter row has ${cells(lines[i + 1]!)} cells, the header ${want}`);
    let j = i + 2;
    // A table ends at a blank line or another block (here: HTML, such as a generated section's end marker).
    for (; j < lines.length && lines[j]!.trim() !== '' && !lines[j]!.trimStart().startsWith('<'); j++) {
      const row = lines[j]!;
      if (!row.trimStart().startsWith('|')) {
        problems.push(`${file}:${j + 1}: a table row does not start with "|" (a line break inside a row?)`);
        continue;
      }
      if (cells(row) !== want) problems.push(`${file}:${j + 1}: ${cells(row)} cells, the header has ${want}`);
    }
    i = j;
  }
  return problems;
}

/** "file:line: problem" for each tab or control character (other than the line feed). */
export function controlProblems(text: string, file: string): string[] {
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    const m = /[\u0000-\u0009\u000b-\u001f\u007f]/.exec(line);
    if (m) problems.push(`${file}:${i + 1}: raw control character U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
  });
  return problems;
}

describe('Markdown tables and characters', () => {
  it.each(DOCS)('%s: every table row has the header’s cell count; no raw tab or control character', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    expect([...tableProblems(text, file), ...controlProblems(text, file)]).toEqual([]);
  });

  it('catches the breakages it is for', () => {
    const table = '| Line | Value | Note |\n|---|---|---|\n';
    expect(tableProblems(`${table}| \`A=1\` | \`1\` | fine |\n`, 'ok.md')).toEqual([]);
    expect(tableProblems(`${table}| \`A=1\` | \`1\` | a \\| escaped pipe |\n`, 'ok.md')).toEqual([]);
    // "\n" written out as a real line break inside a row.
    expect(tableProblems(`${table}| \`A="line1\nline2"\` | two lines | x |\n`, 'x.md')).toEqual([
      'x.md:3: 1 cells, the header has 3',
      'x.md:4: a table row does not start with "|" (a line break inside a row?)',
    ]);
    expect(tableProblems(`${table}| a | b |\n`, 'x.md')).toEqual(['x.md:3: 2 cells, the header has 3']);
    expect(tableProblems('```\n| a | b |\n|---|---|\n| 1 |\n```\n', 'x.md')).toEqual([]);
    expect(tableProblems(`${table}| a | b | c |\n<!-- generated:end -->\n`, 'ok.md')).toEqual([]);
    expect(controlProblems('| `A="a\tb"` |\n', 'x.md')).toEqual(['x.md:1: raw control character U+0009']);
  });
});
