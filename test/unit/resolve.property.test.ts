/**
 * Property-based tests of resolution (fast-check). Projects are generated valid by construction
 * (each group passes the save-time checks): groups with ties and wide priority ranges, every
 * scope, restrictions by workload and tag, templates within a group, addon links, secret files,
 * and workloads with their own runtime variables and build arguments.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkGroup } from '../../server/domain/group-changes.js';
import { diffResolutions } from '../../server/domain/preview.js';
import { previewGroupChanges } from '../../server/domain/preview-groups.js';
import { prepareGroups, resolve, resolveWorkload } from '../../server/domain/resolve.js';
import type { Addon, ProjectSnapshot, Resolution, ResolveScope, SecretGroup, Vars, Workload } from '../../server/domain/types.js';
import { validateRestrictions } from '../../server/domain/validation.js';
import { addon, group, snapshot, workload } from '../helpers/fixtures.js';

const RUNS = 400;
const SCOPES: ResolveScope[] = ['runtime', 'build'];

// Small pools so that keys, paths, tags and priorities collide often. Keys named like
// Object.prototype members probe plain-object maps.
const KEYS = ['A', 'B', 'KEY_1', 'KEY_2', 'constructor', 'toString'];
const GROUP_NAMES = ['a', 'b', 'c', 'd', 'e', 'ab', 'a-b', '0'];
const WORKLOAD_NAMES = ['api', 'web', 'job-1'];
const TAGS = ['t1', 't2', 'team:x'];
const PATHS = ['/etc/a.conf', '/etc/b.conf', '/run/secrets/c'];
/** The addon every group may link: all keys by default alias (DB_URL, DB_PASSWORD) or one chosen alias. */
const ADDON_ALIASES = { all: ['DB_URL', 'DB_PASSWORD'], one: ['DATABASE_URL'] } as const;

/** Short text without '$', so only the generated templates are templates. */
const text = fc.string({ maxLength: 6 }).map((s) => s.replaceAll('$', 's'));
const vars = fc.dictionary(fc.constantFrom(...KEYS), text, { maxKeys: 4, noNullPrototype: true });
const priority = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom(0, 50, 100));

function groupArb(name: string): fc.Arbitrary<SecretGroup> {
  return fc
    .record({
      priority,
      scope: fc.constantFrom('runtime' as const, 'build' as const, 'both' as const),
      restricted: fc.boolean(),
      rWorkloads: fc.subarray(WORKLOAD_NAMES),
      rTags: fc.subarray(TAGS),
      variables: vars,
      files: fc.uniqueArray(
        fc.record({ path: fc.constantFrom(...PATHS), body: text, mode: fc.constantFrom(0o600, 0o644) }),
        { maxLength: 2, selector: (f) => f.path },
      ),
      link: fc.constantFrom('none' as const, 'all' as const, 'one' as const),
      template: fc.option(fc.constantFrom(...KEYS, 'DB_URL', 'DATABASE_URL'), { nil: undefined }),
    })
    .map((r) => {
      // Values carry their group's name, so a wrong winner shows in the value too.
      const variables: Vars = {};
      for (const [k, v] of Object.entries(r.variables)) variables[k] = `${name}:${k}:${v}`;
      const aliases = r.link === 'none' ? [] : [...ADDON_ALIASES[r.link]];
      // A template over a key of the same group (a variable or an addon alias), when there is one.
      if (r.template && (Object.hasOwn(variables, r.template) || aliases.includes(r.template as never))) {
        variables.TPL = `<\${${r.template}}>$\${lit}`;
      }
      return group(name, {
        priority: r.priority,
        scope: r.scope,
        restrictions: validateRestrictions(
          r.restricted ? { restricted: true, workloads: r.rWorkloads, tags: r.rTags } : { restricted: false, workloads: [], tags: [] },
        ),
        variables,
        files: r.files.map((f) => ({ path: f.path, content: Buffer.from(`${name}:${f.body}`), mode: f.mode })),
        addonLinks:
          r.link === 'none' ? [] : [{ addon: 'db', keys: r.link === 'one' ? [{ key: 'url', alias: 'DATABASE_URL' }] : [] }],
      });
    });
}

/** Prefixes every value, so that values from different sources never coincide. */
const tagged = (prefix: string, v: Vars): Vars => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, `${prefix}:${x}`]));

const workloadArb = (name: string): fc.Arbitrary<Workload> =>
  fc
    .record({ tags: fc.subarray(TAGS), runtimeVariables: vars, buildArguments: vars })
    .map((r) => workload(name, { tags: r.tags, runtimeVariables: tagged('run', r.runtimeVariables), buildArguments: tagged('build', r.buildArguments) }));


interface Project {
  groups: SecretGroup[];
  workloads: Workload[];
  addons: Addon[];
}

const projectArb: fc.Arbitrary<Project> = fc
  .record({
    names: fc.uniqueArray(fc.constantFrom(...GROUP_NAMES), { maxLength: 6 }),
    url: text,
    password: text,
  })
  .chain(({ names, url, password }) =>
    fc.record({
      groups: fc.tuple(...names.map(groupArb)),
      workloads: fc.tuple(...WORKLOAD_NAMES.map(workloadArb)),
      addons: fc.constant<Addon[]>([addon('db', { connectionDetails: { url: `db-url:${url}`, password: `db-pw:${password}` } })]),
    }),
  )
  .filter((p) => {
    // Valid by construction; the save-time checks confirm it.
    const addons = new Map(p.addons.map((a) => [a.name, a]));
    for (const g of p.groups) checkGroup(g, { addons });
    return true;
  });

/** A project together with a reordering of everything: groups, workloads, addons and keys within each map. */
const reorderedArb = projectArb.chain((p) =>
  fc.tuple(
    fc.constant(p),
    fc.shuffledSubarray(p.groups, { minLength: p.groups.length }),
    fc.shuffledSubarray(p.workloads, { minLength: p.workloads.length }),
  ),
);

const reversedKeys = (v: Vars): Vars => Object.fromEntries(Object.entries(v).reverse());

function everyResolution(snap: ProjectSnapshot, fn: (w: Workload, scope: ResolveScope, r: Resolution) => void): void {
  for (const w of snap.workloads.values()) for (const scope of SCOPES) fn(w, scope, resolve(snap, w.name, scope));
}

/** Resolution rule 1 (docs/architecture.md, "Resolution rules"), written independently of the code under test. */
function reaches(g: SecretGroup, w: Workload, scope: ResolveScope): boolean {
  if (g.scope !== 'both' && g.scope !== scope) return false;
  const r = g.restrictions;
  return !r.restricted || r.workloads.includes(w.name) || r.tags.some((t) => w.tags.includes(t));
}

/** Resolution rule 2: a group's values, its templates expanded with its own values only. */
function groupValues(g: SecretGroup, a: Addon): Vars {
  const values: Vars = {};
  for (const link of g.addonLinks) {
    if (link.keys.length === 0) {
      values.DB_URL = a.connectionDetails.url!;
      values.DB_PASSWORD = a.connectionDetails.password!;
    } else values.DATABASE_URL = a.connectionDetails.url!;
  }
  for (const [k, v] of Object.entries(g.variables)) {
    values[k] = v.replace(/\$\$\{|\$\{(\w+)\}/g, (m, ref: string | undefined) => (ref === undefined ? '${' : Object.hasOwn(values, ref) ? values[ref]! : g.variables[ref]!));
  }
  return values;
}

const ownOf = (w: Workload, scope: ResolveScope): Vars => (scope === 'runtime' ? w.runtimeVariables : w.buildArguments);

describe('resolution properties', () => {
  it('is deterministic and independent of the order groups (and workloads, and keys) were created in', () => {
    fc.assert(
      fc.property(reorderedArb, ([p, groups, workloads]) => {
        const original = snapshot(p);
        const reordered = snapshot({
          groups: groups.map((g) => ({ ...g, variables: reversedKeys(g.variables), files: [...g.files].reverse() })),
          workloads: workloads.map((w) => ({ ...w, runtimeVariables: reversedKeys(w.runtimeVariables), buildArguments: reversedKeys(w.buildArguments) })),
          addons: p.addons.map((a) => ({ ...a, connectionDetails: reversedKeys(a.connectionDetails) })),
        });
        everyResolution(original, (w, scope, r) => {
          const again = resolve(original, w.name, scope);
          const other = resolve(reordered, w.name, scope);
          expect(JSON.stringify(again)).toBe(JSON.stringify(r));
          expect(JSON.stringify(other)).toBe(JSON.stringify(r));
          expect(other.etag).toBe(r.etag);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('a group with strictly the highest priority among those reaching the workload wins every key and file it holds', () => {
    let exercised = 0;
    fc.assert(
      fc.property(projectArb, (p) => {
        const snap = snapshot(p);
        everyResolution(snap, (w, scope, r) => {
          const reaching = p.groups.filter((g) => reaches(g, w, scope));
          if (reaching.length === 0) return;
          const top = Math.max(...reaching.map((g) => g.priority));
          const tops = reaching.filter((g) => g.priority === top);
          if (tops.length !== 1) return;
          const g = tops[0]!;
          const own = ownOf(w, scope);
          for (const [key, value] of Object.entries(groupValues(g, p.addons[0]!))) {
            if (Object.hasOwn(own, key)) continue;
            exercised++;
            expect(r.variables[key]).toBe(value);
            const prov = r.provenance.find((x) => x.key === key)!;
            expect(prov.winner.group).toBe(g.name);
            expect(prov.conflict).toBe(false);
          }
          for (const f of g.files) {
            expect(Buffer.from(r.files.find((x) => x.path === f.path)!.content).equals(Buffer.from(f.content))).toBe(true);
            expect(r.fileProvenance.find((x) => x.key === f.path)!.winner.group).toBe(g.name);
          }
        });
      }),
      { numRuns: RUNS },
    );
    expect(exercised).toBeGreaterThan(RUNS);
  });

  it("a workload's own variables always win, in their scope only", () => {
    fc.assert(
      fc.property(projectArb, (p) => {
        everyResolution(snapshot(p), (w, scope, r) => {
          const own = ownOf(w, scope);
          for (const [key, value] of Object.entries(own)) {
            expect(r.variables[key]).toBe(value);
            expect(r.provenance.find((x) => x.key === key)!.winner).toEqual({ kind: 'workload' });
          }
          // The other scope's own values never leak in.
          const other = ownOf(w, scope === 'runtime' ? 'build' : 'runtime');
          for (const [key, value] of Object.entries(other)) {
            if (!Object.hasOwn(own, key)) expect(r.variables[key]).not.toBe(value);
          }
          expect(r.conflicts.some((c) => Object.hasOwn(own, c.key))).toBe(false);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('a restricted group never reaches a workload matching neither its workloads nor its tags', () => {
    let exercised = 0;
    fc.assert(
      fc.property(projectArb, (p) => {
        everyResolution(snapshot(p), (w, scope, r) => {
          for (const g of p.groups) {
            const rs = g.restrictions;
            if (!rs.restricted || rs.workloads.includes(w.name) || rs.tags.some((t) => w.tags.includes(t))) continue;
            exercised++;
            expect(r.eligibleGroups).not.toContain(g.name);
            expect(r.contributingGroups).not.toContain(g.name);
            for (const prov of [...r.provenance, ...r.fileProvenance]) {
              expect([prov.winner, ...prov.shadowed].map((s) => s.group)).not.toContain(g.name);
            }
            for (const c of r.conflicts) expect(c.groups).not.toContain(g.name);
            for (const value of Object.values(r.variables)) expect(value.startsWith(`${g.name}:`)).toBe(false);
          }
        });
      }),
      { numRuns: RUNS },
    );
    expect(exercised).toBeGreaterThan(RUNS);
  });

  it('without provenance (what Resolve and Watch cache) equals the full resolution less its provenance', () => {
    fc.assert(
      fc.property(projectArb, (p) => {
        const snap = snapshot(p);
        const prepared = prepareGroups(snap);
        everyResolution(snap, (w, scope, r) => {
          const lean = resolveWorkload(snap.project.name, w, scope, prepared, { provenance: false });
          expect(JSON.stringify(lean)).toBe(JSON.stringify({ ...r, provenance: [], fileProvenance: [] }));
          const unhashed = resolveWorkload(snap.project.name, w, scope, prepared, { provenance: false, etag: false });
          expect(JSON.stringify(unhashed)).toBe(JSON.stringify({ ...lean, etag: '' }));
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('equals a naive model of the resolution rules (eligibility, per-group expansion, merge, override, conflicts)', () => {
    fc.assert(
      fc.property(projectArb, (p) => {
        everyResolution(snapshot(p), (w, scope, r) => {
          const reaching = p.groups.filter((g) => reaches(g, w, scope));
          // Merge: for each key, the highest priority wins; ties go to the lexically first name.
          const best = new Map<string, { g: SecretGroup; value: string }>();
          const tied = new Map<string, Set<string>>();
          const bestFile = new Map<string, SecretGroup>();
          for (const g of reaching) {
            for (const [key, value] of Object.entries(groupValues(g, p.addons[0]!))) {
              const cur = best.get(key);
              if (!cur || g.priority > cur.g.priority || (g.priority === cur.g.priority && g.name < cur.g.name)) {
                best.set(key, { g, value });
              }
            }
            for (const f of g.files) {
              const cur = bestFile.get(f.path);
              if (!cur || g.priority > cur.priority || (g.priority === cur.priority && g.name < cur.name)) bestFile.set(f.path, g);
            }
          }
          for (const g of reaching) {
            for (const key of Object.keys(groupValues(g, p.addons[0]!))) {
              if (best.get(key)!.g.priority === g.priority) tied.set(key, (tied.get(key) ?? new Set()).add(g.name));
            }
          }
          const own = ownOf(w, scope);
          const expected: Vars = {};
          for (const [key, { value }] of best) expected[key] = value;
          Object.assign(expected, own);
          expect(r.variables).toEqual(expected);
          expect(r.eligibleGroups).toEqual(reaching.map((g) => g.name).sort());
          expect(r.files.map((f) => f.path)).toEqual([...bestFile.keys()].sort());
          for (const f of r.files) {
            const from = bestFile.get(f.path)!.files.find((x) => x.path === f.path)!;
            expect(Buffer.from(f.content).equals(Buffer.from(from.content))).toBe(true);
          }
          const conflictKeys = [...tied].filter(([key, names]) => names.size > 1 && !Object.hasOwn(own, key)).map(([key]) => key);
          expect(r.conflicts.filter((c) => !c.key.startsWith('/')).map((c) => c.key).sort()).toEqual(conflictKeys.sort());
        });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('preview of a group change (key by key) agrees with resolving every workload', () => {
  /** The reference: resolve every identity before and after, diff the maps. */
  function byResolving(before: ProjectSnapshot, after: ProjectSnapshot) {
    const out: { workload: string; scope: ResolveScope; diff: NonNullable<ReturnType<typeof diffResolutions>> }[] = [];
    for (const w of [...after.workloads.keys()].sort()) {
      for (const scope of SCOPES) {
        const diff = diffResolutions(resolve(before, w, scope), resolve(after, w, scope));
        if (diff) out.push({ workload: w, scope, diff });
      }
    }
    return out;
  }

  it('for a group replaced, added or removed', () => {
    fc.assert(
      fc.property(projectArb, fc.constantFrom(...GROUP_NAMES).chain((name) => fc.tuple(fc.constant(name), fc.option(groupArb(name)))), (p, [name, replacement]) => {
        const before = snapshot(p);
        const groups = new Map(before.groups);
        if (replacement) groups.set(name, replacement);
        else groups.delete(name);
        const after = { ...before, groups };
        const expected = byResolving(before, after).map(({ workload, scope, diff }) => ({ workload, scope, ...diff }));
        expect(previewGroupChanges(before, after)).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });
});
