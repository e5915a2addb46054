/**
 * Preact writes a `value` or `checked` prop back into the element on every render whenever
 * the element's own state differs. A form field given one without a handler that stores what
 * is typed is therefore reset each time its page renders again (pages re-render whenever the
 * project changes or a list polls): the New group form turned a chosen config group back into
 * a secret one, and the token form a typed expiry into "never". This reads every console page
 * and names each such field.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../console');
const FIELDS = new Set(['input', 'select', 'textarea']);
const HANDLERS = new Set(['onInput', 'onChange']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.tsx') ? [join(dir, e.name)] : [],
  );
}

/** Fields with `value` or `checked` that nothing updates, as "file:line <tag>". */
function unheldFields(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isJsxSelfClosingElement(node) || ts.isJsxOpeningElement(node)) && FIELDS.has(node.tagName.getText(sf))) {
      const attrs = node.attributes.properties.filter(ts.isJsxAttribute);
      const names = attrs.map((p) => p.name.getText(sf));
      const held = names.some((n) => HANDLERS.has(n)) || names.includes('readOnly');
      // A checkbox's or radio's value is what it submits, not what the user changes.
      const type = attrs.find((p) => p.name.getText(sf) === 'type')?.initializer?.getText(sf);
      const state = type === '"checkbox"' || type === '"radio"' ? ['checked'] : ['value', 'checked'];
      if (!held && names.some((n) => state.includes(n))) {
        out.push(`${file.slice(root.length + 1)}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1} <${node.tagName.getText(sf)}>`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

describe('console form fields', () => {
  it('every field given a value or checked state also stores what the user changes', () => {
    const files = sources(root);
    expect(files.length).toBeGreaterThan(10);
    expect(files.flatMap((f) => unheldFields(f, readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('names a field whose value nothing updates, and accepts held and read-only ones', () => {
    const f = join(root, 'example.tsx');
    const text = [
      'const a = <select name="type" value={t}><option value="1">x</option></select>;',
      'const b = <input value={v} onInput={(e) => set(e.currentTarget.value)} />;',
      'const c = <input readOnly value={shown} />;',
      'const d = <input type="checkbox" checked={on} />;',
      'const e = <option value="2">y</option>;',
      'const f = <input type="checkbox" name="projects" value={p.name} />;',
    ].join('\n');
    expect(unheldFields(f, text)).toEqual(['example.tsx:1 <select>', 'example.tsx:4 <input>']);
  });
});
