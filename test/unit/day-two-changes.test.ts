/** Day-two group rules as pure functions: literal values, undelete, kept file modes, no-op detection, restrictions that name nothing. */
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../server/domain/errors.js';
import { applyGroupChange, literalValue, sameContent } from '../../server/domain/group-changes.js';
import { expandAll } from '../../server/domain/templates.js';
import { checkRestrictionReach } from '../../server/domain/restriction-reach.js';
import type { SecretGroup } from '../../server/domain/types.js';
import { group, workload } from '../helpers/fixtures.js';

const ctx = { addons: new Map(), now: 9, actor: 'alice' };
const current = (over: Partial<SecretGroup> = {}) => group('g', { revision: 3, variables: { A: '1' }, ...over });

describe('literal values', () => {
  it.each(['p${ss', 'p${HOME}', '$${x', 'a$$${b', '$', '${', 'plain', '$$'])('%j is stored escaped and resolves to itself', (raw) => {
    const g = applyGroupChange(current(), { kind: 'set', variables: { P: raw }, literal: true }, ctx)!;
    expect(g.variables.P).toBe(literalValue(raw));
    expect(expandAll(g.variables, {}).P).toBe(raw);
  });
  it('without literal, a value with ${ is a template and a malformed one is refused', () => {
    expect(() => applyGroupChange(current(), { kind: 'set', variables: { P: 'p${ss' } }, ctx)).toThrowError(/malformed template/);
  });
  it('applies to imports too', () => {
    const g = applyGroupChange(current(), { kind: 'import', format: 'dotenv', content: "P='p${HOME}'", replace: false, literal: true }, ctx)!;
    expect(expandAll(g.variables, {}).P).toBe('p${HOME}');
  });
});

describe('restore (undelete)', () => {
  it('recreates the last content at the revision after the deletion', () => {
    const last = current({ variables: { A: 'x' }, revision: 4 });
    const g = applyGroupChange(null, { kind: 'restore', revision: 5, to: last }, ctx)!;
    expect(g).toMatchObject({ revision: 6, variables: { A: 'x' }, updatedBy: 'alice', updatedAt: 9 });
  });
  it('refuses a group that exists', () => {
    expect(() => applyGroupChange(current(), { kind: 'restore', revision: 5, to: current() }, ctx)).toThrowError(/already exists/);
  });
});

describe('re-adding a secret file', () => {
  const withFile = current({ files: [{ path: '/etc/x', content: new TextEncoder().encode('old'), mode: 0o640 }] });
  it('keeps its mode when none is given', () => {
    const g = applyGroupChange(withFile, { kind: 'add-file', file: { path: '/etc/x', content: new TextEncoder().encode('new'), mode: 0 } }, ctx)!;
    expect(g.files[0]!.mode).toBe(0o640);
  });
  it('takes the mode given', () => {
    const g = applyGroupChange(withFile, { kind: 'add-file', file: { path: '/etc/x', content: new TextEncoder().encode('new'), mode: 0o400 } }, ctx)!;
    expect(g.files[0]!.mode).toBe(0o400);
  });
  it('a new file without a mode gets 0600', () => {
    const g = applyGroupChange(withFile, { kind: 'add-file', file: { path: '/etc/y', content: new Uint8Array(), mode: 0 } }, ctx)!;
    expect(g.files.find((f) => f.path === '/etc/y')!.mode).toBe(0o600);
  });
});

describe('sameContent: what a revision would record', () => {
  it('a set of the same value changes nothing; revision and times do not count', () => {
    const cur = current();
    expect(sameContent(cur, applyGroupChange(cur, { kind: 'set', variables: { A: '1' } }, ctx)!)).toBe(true);
    expect(sameContent(cur, applyGroupChange(cur, { kind: 'set', variables: { A: '2' } }, ctx)!)).toBe(false);
    expect(sameContent(cur, applyGroupChange(cur, { kind: 'settings', priority: cur.priority + 1 }, ctx)!)).toBe(false);
  });
});

describe('restrictions that name nothing', () => {
  const ws = [workload('api', { tags: ['web'] }), workload('worker', { tags: ['jobs'] })];
  const r = (workloads: string[], tags: string[] = []) => ({ restricted: true, workloads, tags });
  it('refuses a workload that does not exist, naming it', () => {
    expect(() => checkRestrictionReach('p/g', r(['api', 'nosuch']), null, ws, false)).toThrowError(/no workload named nosuch/);
  });
  it('a workload listed before and deleted since does not block the change', () => {
    expect(checkRestrictionReach('p/g', r(['api', 'gone']), r(['gone']), ws, false).reached).toEqual(['api']);
  });
  it('a tag declared ahead is a warning listing the workloads reached', () => {
    expect(checkRestrictionReach('p/g', r(['api'], ['future']), null, ws, false).warnings).toEqual(['tag future is carried by no workload yet; group p/g reaches api']);
  });
  it('reaching nobody is refused unless allowed', () => {
    const e = (() => {
      try {
        checkRestrictionReach('p/g', r([], ['future']), null, ws, false);
      } catch (x) {
        return x as DomainError;
      }
    })();
    expect(e?.code).toBe('FAILED_PRECONDITION');
    expect(checkRestrictionReach('p/g', r([], ['future']), null, ws, true).reached).toEqual([]);
  });
  it("the unknown workload's hint, followed, is accepted: a tag it will carry, with allow_empty", () => {
    expect(() => checkRestrictionReach('p/g', r(['nosuch']), null, ws, false)).toThrowError(
      /create it first, or restrict by a tag it will carry \(--tag\), adding allow_empty \(--allow-empty\) while no workload carries that tag/,
    );
    expect(checkRestrictionReach('p/g', r([], ['nosuch-tag']), null, ws, true).warnings).toEqual(['tag nosuch-tag is carried by no workload yet; group p/g reaches no workload']);
  });
});
