/** The docs harness's reading of Markdown: markers, expected output, the last command. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { extractBlocks, lastCommandOnly } from '../helpers/doc-blocks.js';

const md = [
  'Text',
  '<!-- test: run -->',
  '```sh',
  'echo one',
  'printf "%s\\n" \\',
  '  two',
  '```',
  '```',
  'two',
  '```',
  '',
  '  <!-- test: skip: needs Docker -->',
  '  ```sh',
  '  docker ps',
  '  ```',
  '',
  '```bash',
  'unmarked',
  '```',
].join('\n');

describe('extractBlocks', () => {
  const blocks = extractBlocks(md, 'x.md');
  it('reads run and skip markers, dedents indented blocks, and leaves unmarked blocks unmarked', () => {
    expect(blocks.filter((b) => b.lang !== '').map((b) => [b.line, b.lang, b.marker, b.text])).toEqual([
      [3, 'sh', { run: true }, 'echo one\nprintf "%s\\n" \\\n  two\n'],
      [13, 'sh', { run: false, reason: 'needs Docker' }, 'docker ps\n'],
      [17, 'bash', null, 'unmarked\n'],
    ]);
  });
  it('a plain block right after a run block is its expected output', () => expect(blocks[0]!.expected).toBe('two\n'));
});

describe('lastCommandOnly', () => {
  it('keeps shell state but only the last (continued) command prints', () => {
    const script = lastCommandOnly('f() { echo "f:$1"; }\nexport X=1\necho noise\nf \\\n  "$X"\n');
    const r = spawnSync('bash', ['-e', '-c', script], { encoding: 'utf8' });
    expect(r.stdout).toBe('f:1\n');
  });
});
