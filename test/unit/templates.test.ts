/** `${KEY}` templates within one group: expansion, the `$${` escape, and the save-time checks. */
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../server/domain/errors.js';
import { checkTemplates, expandAll, parseTemplate, references } from '../../server/domain/templates.js';
import type { Vars } from '../../server/domain/types.js';

function invalidMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe('INVALID_ARGUMENT');
    return (e as DomainError).message;
  }
  throw new Error('expected INVALID_ARGUMENT, nothing was thrown');
}

describe('expandAll', () => {
  it.each<[string, Vars, Vars, Vars]>([
    ['a value without a template is unchanged', { A: 'plain' }, {}, { A: 'plain' }],
    ['a reference is replaced by the value of the same-group key', { HOST: 'h', URL: 'http://${HOST}/' }, {}, { HOST: 'h', URL: 'http://h/' }],
    ['several and adjacent references expand', { A: 'a', B: 'b', AB: '${A}${B}-${A}' }, {}, { A: 'a', B: 'b', AB: 'ab-a' }],
    ['nested references expand transitively', { A: 'x', B: '${A}y', C: '[${B}]' }, {}, { A: 'x', B: 'xy', C: '[xy]' }],
    ['nested references expand whatever the key order', { C: '[${B}]', B: '${A}y', A: 'x' }, {}, { C: '[xy]', B: 'xy', A: 'x' }],
    ['$${ is a literal ${', { A: 'x', B: '$${A}' }, {}, { A: 'x', B: '${A}' }],
    ['$${ next to a reference keeps both', { A: 'x', B: '$${A}=${A}' }, {}, { A: 'x', B: '${A}=x' }],
    ['a lone $ is literal', { A: 'costs $5', B: 'ends with $', C: '$', D: '$HOME' }, {}, { A: 'costs $5', B: 'ends with $', C: '$', D: '$HOME' }],
    ['$$ not followed by { is literal', { A: 'a$$b' }, {}, { A: 'a$$b' }],
    ['a lone } is literal', { A: 'x}' }, {}, { A: 'x}' }],
    ['an expanded value is not re-parsed for templates', { A: '$${B}', B: 'b', C: '${A}' }, {}, { A: '${B}', B: 'b', C: '${B}' }],
    ['an addon alias is a literal: referenced, not expanded itself', { DSN: '${PG_URL}?ssl=1' }, { PG_URL: 'pg://u:p${w}d@h' }, { DSN: 'pg://u:p${w}d@h?ssl=1' }],
    ['addon aliases are not part of the output', { A: 'a' }, { PG_URL: 'u' }, { A: 'a' }],
    ['an empty value stays empty', { A: '' }, {}, { A: '' }],
    ['unicode survives expansion', { A: 'ünï€😀', B: '<${A}>' }, {}, { A: 'ünï€😀', B: '<ünï€😀>' }],
  ])('%s', (_rule, templated, literal, expected) => {
    checkTemplates(templated, literal);
    expect(expandAll(templated, literal)).toEqual(expected);
  });

  it.each<[string, Vars, Vars]>([
    ['an undefined reference expands to empty at resolution instead of failing', { A: '<${MISSING}>' }, { A: '<>' }],
    ['a self-cycle that bypassed the save check terminates', { A: 'x${A}' }, { A: 'x' }],
    ['a 2-cycle that bypassed the save check terminates', { A: 'a${B}', B: 'b${A}' }, { A: 'ab', B: 'b' }],
  ])('resolution never fails: %s', (_rule, templated, expected) => {
    expect(() => checkTemplates(templated, {})).toThrowError(DomainError);
    expect(expandAll(templated, {})).toEqual(expected);
  });
});

describe('parseTemplate', () => {
  it('splits literal text and references', () => {
    expect(parseTemplate('K', 'a${B}c$${d}')).toEqual([{ text: 'a' }, { ref: 'B' }, { text: 'c${d}' }]);
    expect(parseTemplate('K', '')).toEqual([{ text: '' }]);
    expect(references('K', '${A}${_b1}$${C}')).toEqual(['A', '_b1']);
  });

  it.each([
    ['an unclosed ${', 'abc${'],
    ['an unclosed reference', '${HOST'],
    ['an empty reference', 'x${}'],
    ['a reference starting with a digit', '${1A}'],
    ['a reference with a space', '${A B}'],
    ['a reference with a dash', '${A-B}'],
    ['a nested ${ inside a reference', '${A${B}}'],
    ['a shell default expression', '${A:-x}'],
  ])('a malformed template is refused, naming the key and the character: %s', (_rule, value) => {
    const message = invalidMessage(() => parseTemplate('MY_KEY', value));
    expect(message).toContain('MY_KEY');
    expect(message).toContain(`character ${value.indexOf('${') + 1}`);
    expect(message).toContain('$${');
  });

  it('a malformed template is refused by checkTemplates too', () => {
    expect(invalidMessage(() => checkTemplates({ OK: 'x', BAD: 'a${' }, {}))).toContain('BAD');
  });
});

describe('checkTemplates (save time)', () => {
  it('an undefined reference is refused, naming the key whose value holds it, not the reference', () => {
    // The reference text may be a secret someone meant literally: T=${hunter2secret}.
    const message = invalidMessage(() => checkTemplates({ URL: 'http://${HOST}', T: '${hunter2secret}' }, {}));
    expect(message).toContain('undefined');
    expect(message).toContain('"URL"');
    expect(message).toContain('"T"');
    expect(message).not.toContain('HOST');
    expect(message).not.toContain('hunter2');
  });

  it('every key with an undefined reference is named, not only the first, up to a bound', () => {
    const message = invalidMessage(() => checkTemplates({ A: '${X}', B: '${Y}${A}', C: 'fine' }, {}));
    expect(message).toContain('"A", "B"');
    expect(message).not.toContain('"C"');
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`K${i}_${'x'.repeat(200)}`, '${MISSING}']));
    const long = invalidMessage(() => checkTemplates(many, {}));
    expect(long).toContain('and 295 more');
    expect(long.length).toBeLessThan(600);
  });

  it('a long cycle is named by its first keys only', () => {
    const ring = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`K${i}`, `\${K${(i + 1) % 500}}`]));
    const message = invalidMessage(() => checkTemplates(ring, {}));
    expect(message).toMatch(/^template cycle: K0 -> K1 -> K2 -> K3 -> K4 -> K5 -> … \(500 keys\)$/);
  });

  it('a reference escaped with $${ is not checked', () => {
    expect(() => checkTemplates({ A: '$${NOT_A_KEY}' }, {})).not.toThrow();
  });

  it('references are case-sensitive', () => {
    expect(invalidMessage(() => checkTemplates({ host: 'h', URL: '${HOST}' }, {}))).toContain('value of "URL"');
  });

  it('a reference to an addon alias is defined', () => {
    expect(() => checkTemplates({ DSN: '${PG_URL}' }, { PG_URL: '' })).not.toThrow();
  });

  it.each([
    ['a self-reference', { A: 'x${A}' }, 'A -> A'],
    ['a 2-cycle', { A: '${B}', B: '${A}' }, 'A -> B -> A'],
    ['a 3-cycle', { A: '${B}', B: '${C}', C: '${A}' }, 'A -> B -> C -> A'],
    ['a longer cycle', { K1: '${K2}', K2: '${K3}', K3: '${K4}', K4: '${K5}', K5: '${K1}' }, 'K1 -> K2 -> K3 -> K4 -> K5 -> K1'],
    ['a cycle reached from an acyclic key', { A: '${B}', B: '${C}', C: '${B}' }, 'B -> C -> B'],
    ['a cycle beside defined literals', { A: '${L}${B}', B: '${A}' }, 'A -> B -> A'],
  ])('a cycle is refused, naming its path: %s', (_rule, templated, path) => {
    const message = invalidMessage(() => checkTemplates(templated, { L: 'lit' }));
    expect(message).toContain('cycle');
    expect(message).toContain(path);
  });

  it('a diamond (two paths to one key) is not a cycle', () => {
    const vars = { A: '${B}${C}', B: '${D}', C: '${D}', D: 'd' };
    expect(() => checkTemplates(vars, {})).not.toThrow();
    expect(expandAll(vars, {}).A).toBe('dd');
  });

  it('a long acyclic chain is accepted and expands', () => {
    const vars: Vars = { K0: 'end' };
    for (let i = 1; i <= 500; i++) vars[`K${i}`] = `\${K${i - 1}}`;
    expect(() => checkTemplates(vars, {})).not.toThrow();
    expect(expandAll(vars, {}).K500).toBe('end');
  });
});
