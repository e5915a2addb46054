/**
 * The shell blocks of the Markdown docs, for test/docs/doc-blocks.test.ts. Every ```sh (or
 * bash/shell) block carries a marker on the line before its fence:
 *
 *   <!-- test: run -->            run verbatim, in a fresh bash, in the docs sandbox
 *   <!-- test: skip: REASON -->   not run, for the reason given (needs Docker, a remote server…)
 *   <!-- test: kube -->           run verbatim against a real Kubernetes API server, with the
 *                                 page's `run` blocks, by test/kubernetes/docs.test.ts (not by
 *                                 the docs test, which has no control plane)
 *
 * A plain ``` block that directly follows a `run` block is the expected stdout of the block's
 * last command.
 */
import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';

export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  text: string;
  marker: { run: true } | { run: false; reason: string; kube?: true } | null;
  /** The expected stdout of the last command, when a plain block follows. */
  expected?: string;
}

const FENCE = /^(\s*)```(\S*)\s*$/;
const MARKER = /^\s*<!--\s*test:\s*(run|kube|skip:\s*(.+?))\s*-->\s*$/;
const KUBE_REASON = 'runs against a Kubernetes API server, in test/kubernetes/docs.test.ts';
export const SHELL = new Set(['sh', 'bash', 'shell']);

export function extractBlocks(markdown: string, file: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: (DocBlock & { end: number })[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(Math.min(indent, lines[j]!.length - lines[j]!.trimStart().length)));
    const m = i > 0 ? MARKER.exec(lines[i - 1]!) : null;
    blocks.push({
      file,
      line: i + 1,
      lang: open[2]!,
      text: `${body.join('\n')}\n`,
      marker: m ? (m[1] === 'run' ? { run: true } : m[1] === 'kube' ? { run: false, reason: KUBE_REASON, kube: true } : { run: false, reason: m[2]! }) : null,
      end: j,
    });
    i = j;
  }
  for (let k = 0; k + 1 < blocks.length; k++) {
    const b = blocks[k]!;
    const next = blocks[k + 1]!;
    if ((b.marker?.run || (b.marker && 'kube' in b.marker)) && next.lang === '' && next.line === b.end + 2) b.expected = next.text;
  }
  return blocks.map(({ end: _end, ...b }) => b);
}

/**
 * The block as a script whose stdout is only the last command's: everything before it runs in
 * a brace group (same shell, so functions and exports persist) with stdout discarded.
 */
export function lastCommandOnly(text: string): string {
  const lines = text.trimEnd().split('\n');
  let start = lines.length - 1;
  while (start > 0 && lines[start - 1]!.endsWith('\\')) start--;
  const before = lines.slice(0, start).join('\n');
  const last = lines.slice(start).join('\n');
  return before.trim() ? `{\n${before}\n} >/dev/null\n${last}\n` : `${last}\n`;
}

/**
 * Runs a block verbatim in a fresh `bash -e -o pipefail` (the last command's stdout checked
 * against the expected output when the page gives one); fails with the block and its output.
 */
export function expectBlockRuns(b: DocBlock, cwd: string, env: NodeJS.ProcessEnv): void {
  const script = b.expected === undefined ? b.text : lastCommandOnly(b.text);
  const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, `${b.file}:${b.line}\n${b.text}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  if (b.expected !== undefined) expect(r.stdout).toBe(b.expected);
}
