/** The console editor's rules: what a set of edited rows amounts to, and what blocks saving. */
import { describe, expect, it } from 'vitest';
import { applyJson, changeOf, newRow, parseJson, problems, rowsOf, settled, type Row } from '../../console/pages/kv-model.js';

const edit = (rows: Row[], key: string, patch: Partial<Row>) => rows.map((r) => (r.orig === key ? { ...r, ...patch } : r));

describe('changeOf', () => {
  const base = () => rowsOf({ A: '1', B: '2' }, false);

  it('untouched rows change nothing', () => {
    expect(changeOf(base())).toEqual({ set: {}, unset: [] });
  });
  it('an edited value is set', () => {
    expect(changeOf(edit(base(), 'A', { value: '9', edited: true }))).toEqual({ set: { A: '9' }, unset: [] });
  });
  it('a removed row is unset', () => {
    expect(changeOf(edit(base(), 'B', { removed: true }))).toEqual({ set: {}, unset: ['B'] });
  });
  it('a renamed key unsets the old key and sets the new one with its value', () => {
    expect(changeOf(edit(base(), 'A', { key: 'A2' }))).toEqual({ set: { A2: '1' }, unset: ['A'] });
  });
  it('a key removed in one row and added in another is a set, not an unset', () => {
    expect(changeOf([...edit(base(), 'A', { removed: true }), newRow('A', 'new')])).toEqual({ set: { A: 'new' }, unset: [] });
  });
  it('a blank new row is ignored', () => {
    expect(changeOf([...base(), newRow()])).toEqual({ set: {}, unset: [] });
  });
});

describe('problems', () => {
  it('flags invalid keys, duplicates, and renaming a masked value', () => {
    const masked = rowsOf({ SECRET: '' }, true);
    const rows = [...rowsOf({ A: '1' }, false), newRow('1BAD', 'x'), newRow('A', 'y'), ...edit(masked, 'SECRET', { key: 'RENAMED' })];
    const p = [...problems(rows).values()];
    expect(p).toHaveLength(3);
    expect(p[0]).toMatch(/start with a letter/);
    expect(p[1]).toMatch(/"A" appears twice/);
    expect(p[2]).toMatch(/Reveal or type the value/);
  });
  it('an edited masked row may be renamed once its value is typed', () => {
    const rows = edit(rowsOf({ SECRET: '' }, true), 'SECRET', { key: 'RENAMED', value: 'v', known: true, edited: true });
    expect(problems(rows).size).toBe(0);
    expect(changeOf(rows)).toEqual({ set: { RENAMED: 'v' }, unset: ['SECRET'] });
  });
});

describe('applyJson', () => {
  it('sets shown keys, adds new ones, removes shown keys left out, and keeps masked ones', () => {
    const rows = [...rowsOf({ A: '1', B: '2' }, false), ...rowsOf({ HIDDEN: '' }, true)];
    const out = applyJson(rows, { A: '1', C: '3' });
    expect(changeOf(out)).toEqual({ set: { C: '3' }, unset: ['B'] });
    expect(out.find((r) => r.orig === 'HIDDEN')?.removed).toBe(false);
  });
});

describe('parseJson', () => {
  it('names the line and column of a syntax error without quoting the input', () => {
    expect(() => parseJson('{\n  "A": "secret-value",\n  "B": \n}')).toThrow(/^Invalid JSON at line 4, column 1: ValueExpected$/);
  });
  it('parses a valid object', () => {
    expect(parseJson('{"A": "1"}')).toEqual({ A: '1' });
  });
});

describe('settled', () => {
  it('after a save, removed and blank rows are gone and every row is stored under its key', () => {
    const rows = [...edit(rowsOf({ A: '1', B: '2' }, false), 'A', { key: 'A2' }), newRow('C', '3'), newRow()];
    const out = settled(edit(rows, 'B', { removed: true }));
    expect(out.map((r) => [r.orig, r.key, r.value, r.edited])).toEqual([
      ['A2', 'A2', '1', false],
      ['C', 'C', '3', false],
    ]);
    expect(changeOf(out)).toEqual({ set: {}, unset: [] });
  });
});
