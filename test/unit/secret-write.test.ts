/**
 * Which changes need write on secret groups whatever the group's type: execution-controlling
 * keys (directly or through a template), files, addon links, and the reach of a group holding
 * any of these.
 */
import { describe, expect, it } from 'vitest';
import { describeNeeds, secretWriteNeeds } from '../../server/domain/secret-write.js';
import type { SecretFile, SecretGroup } from '../../server/domain/types.js';
import { group } from '../helpers/fixtures.js';

const file = (path: string, content = 'c', mode = 0o600): SecretFile => ({ path, content: Buffer.from(content), mode });
const cfg = (over: Partial<SecretGroup> = {}) => group('cfg', { type: 'config', variables: { LOG: 'info' }, ...over });

describe('secretWriteNeeds', () => {
  it('ordinary keys need nothing more', () => {
    expect(secretWriteNeeds(cfg(), cfg({ variables: { LOG: 'debug', NEW: '1' } }))).toEqual([]);
    expect(secretWriteNeeds(null, cfg())).toEqual([]);
    expect(secretWriteNeeds(cfg(), null)).toEqual([]);
  });

  it('setting, changing or removing an execution-controlling key', () => {
    expect(secretWriteNeeds(cfg(), cfg({ variables: { LOG: 'info', NODE_OPTIONS: '--require /tmp/x.js' } }))).toEqual(['NODE_OPTIONS']);
    expect(secretWriteNeeds(cfg({ variables: { PATH: '/a' } }), cfg({ variables: { PATH: '/b' } }))).toEqual(['PATH']);
    expect(secretWriteNeeds(cfg({ variables: { LD_PRELOAD: '/x.so', LOG: 'info' } }), cfg())).toEqual(['LD_PRELOAD']);
    expect(secretWriteNeeds(null, cfg({ variables: { PATH: '/a' } }))).toEqual(['PATH']);
    expect(secretWriteNeeds(cfg({ variables: { PATH: '/a' } }), null)).toEqual(['PATH']);
  });

  it('an unchanged execution-controlling key does not count (the rule is about changing them)', () => {
    const before = cfg({ variables: { PATH: '/usr/bin', LOG: 'info' } });
    expect(secretWriteNeeds(before, { ...before, variables: { PATH: '/usr/bin', LOG: 'debug' } })).toEqual([]);
  });

  it('changing a key that an execution-controlling template refers to, even indirectly', () => {
    const before = cfg({ variables: { BIN: '/opt/bin', DIR: '${BIN}', PATH: '${DIR}:/usr/bin', LOG: 'info' } });
    expect(secretWriteNeeds(before, { ...before, variables: { ...before.variables, BIN: '/tmp/evil' } })).toEqual(['PATH']);
    expect(secretWriteNeeds(before, { ...before, variables: { ...before.variables, LOG: 'debug' } })).toEqual([]);
  });

  it('adding, changing (content or mode) or removing a file', () => {
    const withFile = cfg({ files: [file('/etc/app.conf')] });
    expect(secretWriteNeeds(cfg(), withFile)).toEqual(['file /etc/app.conf']);
    expect(secretWriteNeeds(withFile, cfg({ files: [file('/etc/app.conf', 'other')] }))).toEqual(['file /etc/app.conf']);
    expect(secretWriteNeeds(withFile, cfg({ files: [file('/etc/app.conf', 'c', 0o755)] }))).toEqual(['file /etc/app.conf']);
    expect(secretWriteNeeds(withFile, cfg())).toEqual(['file /etc/app.conf']);
    expect(secretWriteNeeds(withFile, { ...withFile, variables: { LOG: 'debug' } })).toEqual([]);
  });

  it('any change to the addon links', () => {
    const linked = group('s', { type: 'secret', addonLinks: [{ addon: 'db', keys: [] }] });
    expect(secretWriteNeeds(group('s', { type: 'secret' }), linked)).toEqual(['addon links']);
    expect(secretWriteNeeds(linked, { ...linked, addonLinks: [{ addon: 'db', keys: [{ key: 'password', alias: 'PW' }] }] })).toEqual(['addon links']);
    expect(secretWriteNeeds(linked, null)).toEqual(['addon links']);
    expect(secretWriteNeeds(linked, { ...linked, description: 'x' })).toEqual([]);
  });

  it('changing the reach of a group that holds such entries (type, scope, priority, restrictions)', () => {
    const holding = cfg({ variables: { NODE_OPTIONS: '--max-old-space-size=512', LOG: 'info' }, files: [file('/etc/x')] });
    const expected = ['NODE_OPTIONS', 'file /etc/x'];
    expect(secretWriteNeeds(holding, { ...holding, priority: 99 })).toEqual(expected);
    expect(secretWriteNeeds(holding, { ...holding, scope: 'runtime' })).toEqual(expected);
    expect(secretWriteNeeds(holding, { ...holding, restrictions: { restricted: false, workloads: [], tags: [] } })).toEqual([]);
    expect(secretWriteNeeds(holding, { ...holding, restrictions: { restricted: true, workloads: ['api'], tags: [] } })).toEqual(expected);
    expect(secretWriteNeeds(holding, { ...holding, description: 'only words' })).toEqual([]);
    // A group without such entries may be moved freely.
    expect(secretWriteNeeds(cfg(), cfg({ priority: 100 }))).toEqual([]);
  });

  it('a rename moves the group like a priority change (the name breaks priority ties)', () => {
    const holding = cfg({ variables: { NODE_OPTIONS: '--require ./start.js', LOG: 'info' }, files: [file('/app/start.sh')] });
    expect(secretWriteNeeds(holding, { ...holding, name: 'aaa' })).toEqual(['NODE_OPTIONS', 'file /app/start.sh']);
    expect(secretWriteNeeds(cfg(), cfg({ name: 'aaa' }))).toEqual([]);
  });

  it("the project's own names and prefixes count like the built-in ones", () => {
    const own = ['ACME_*', 'MY_PLUGIN_PATH'];
    expect(secretWriteNeeds(cfg(), cfg({ variables: { LOG: 'info', MY_PLUGIN_PATH: '/tmp/x' } }), own)).toEqual(['MY_PLUGIN_PATH']);
    expect(secretWriteNeeds(cfg(), cfg({ variables: { LOG: 'info', ACME_HOOK: 'x' } }), own)).toEqual(['ACME_HOOK']);
    expect(secretWriteNeeds(cfg(), cfg({ variables: { LOG: 'info', MY_PLUGIN_PATH: '/tmp/x' } }))).toEqual([]);
    const holding = cfg({ variables: { ACME_HOOK: 'x', LOG: 'info' } });
    expect(secretWriteNeeds(holding, { ...holding, priority: 5 }, own)).toEqual(['ACME_HOOK']);
  });

  it('a refusal names the family (or project entry) of each key, and never a value', () => {
    expect(describeNeeds(['CFLAGS', 'MY_PLUGIN_PATH', 'addon links', 'file /etc/x'], ['MY_*'])).toEqual([
      'CFLAGS (build tools)',
      'MY_PLUGIN_PATH (project policy MY_*)',
      'addon links',
      'file /etc/x',
    ]);
  });
});
