import { describe, expect, it } from 'vitest';
import { createTokenRequest } from '../../cli/commands/access.js';
import { previewKind, previewRequest, type PreviewOpts } from '../../cli/commands/group-preview.js';
import { serverOptions } from '../../cli/commands/serve.js';
import { describeError, EXIT } from '../../cli/errors.js';
import { buildProgram, commandPath } from '../../cli/program.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    const d = describeError(err);
    expect(d.exitCode).toBe(EXIT.usage);
    return d.message;
  }
  throw new Error('expected a usage error');
}

describe('sg group preview: exactly one change', () => {
  const kind = (o: PreviewOpts) => previewKind(o);
  it.each<[PreviewOpts, string]>([
    [{ set: ['A=1', 'B=2'] }, 'set'],
    [{ unset: ['A'] }, 'unset'],
    [{ import: 'x.env', replace: true }, 'import'],
    [{ priority: '60' }, 'settings'],
    [{ type: 'secret', scope: 'build', description: 'd' }, 'settings'],
    [{ workload: ['api'], tag: ['web'] }, 'settings'],
    [{ unrestrict: true }, 'settings'],
    [{ create: true, priority: '10', set: ['A=1'], workload: ['api'] }, 'create'],
    [{ delete: true }, 'delete'],
    [{ addFile: '/etc/x', from: 'f' }, 'add-file'],
    [{ removeFile: '/etc/x' }, 'remove-file'],
    [{ link: 'db', addonKey: ['host=H'] }, 'link'],
    [{ unlink: 'db' }, 'unlink'],
    [{ rollback: '3' }, 'rollback'],
  ])('%j is a %s change', (o, k) => expect(kind(o)).toBe(k));

  it('refuses several changes, naming them', () => {
    expect(usageError(() => kind({ set: ['A=1'], priority: '5' }))).toBe('preview one change at a time; got --set, settings (--type/--scope/--priority/--description/--workload/--tag/--unrestrict)');
    expect(usageError(() => kind({ delete: true, unlink: 'db' }))).toContain('--delete, --unlink');
  });
  it('refuses no change at all', () => expect(usageError(() => kind({}))).toMatch(/^give the change to preview/));
  it('refuses a sub-flag without its change', () => {
    expect(usageError(() => kind({ set: ['A=1'], from: 'f' }))).toBe('--from goes with --add-file');
    expect(usageError(() => kind({ unset: ['A'], addonKey: ['k'] }))).toBe('--addon-key goes with --link');
    expect(usageError(() => kind({ delete: true, replace: true }))).toBe('--format and --replace go with --import');
    expect(usageError(() => kind({ addFile: '/x' }))).toBe('--add-file needs --from LOCALFILE');
  });
  it('--literal and --allow-empty go with the changes they change', async () => {
    expect(usageError(() => kind({ unset: ['A'], literal: true }))).toBe('--literal goes with --set or --import');
    expect(usageError(() => kind({ delete: true, allowEmpty: true }))).toBe('--allow-empty goes with --workload/--tag or --create');
    expect((await previewRequest('p', 'g', { set: ['A=p${x'], literal: true })).setVariables).toMatchObject({ literal: true });
    expect((await previewRequest('p', 'g', { tag: ['later'], allowEmpty: true })).updateGroupSettings).toMatchObject({ allowEmpty: true });
  });

  it('maps to the matching oneof member only', async () => {
    const set = await previewRequest('p', 'g', { set: ['A=x=y'], expectedRevision: '4' });
    expect(set.setVariables).toMatchObject({ project: 'p', name: 'g', expectedRevision: 4, variables: { A: 'x=y' } });
    expect(set.updateGroupSettings).toBeUndefined();
    const settings = await previewRequest('p', 'g', { priority: '60' });
    expect(settings.updateGroupSettings).toMatchObject({ priority: 60, restrictions: undefined });
    const unrestrict = await previewRequest('p', 'g', { unrestrict: true });
    expect(unrestrict.updateGroupSettings?.restrictions).toEqual({ restricted: false, workloads: [], tags: [] });
    const create = await previewRequest('p', 'g', { create: true, priority: '10', set: ['A=1'], tag: ['web'] });
    expect(create.createGroup).toMatchObject({ priority: 10, variables: { A: '1' }, restrictions: { restricted: true, tags: ['web'] } });
    const rb = await previewRequest('p', 'g', { rollback: '2' });
    expect(rb.rollbackGroup?.toRevision).toBe(2);
  });
});

describe('sg token create', () => {
  it('builds a role token limited to projects, with a ttl', () => {
    expect(createTokenRequest({ role: 'viewer', project: ['a', 'b'], name: 'ci', ttl: '24h' })).toMatchObject({
      role: 'viewer',
      projects: ['a', 'b'],
      name: 'ci',
      ttlSeconds: 86400,
      workload: undefined,
    });
  });
  it('builds a workload token, optionally with the build scope', () => {
    expect(createTokenRequest({ workload: 'shop/api', build: true })).toMatchObject({
      workload: { project: 'shop', workload: 'api' },
      allowBuild: true,
      ttlSeconds: 0,
    });
  });
  it('needs exactly one of --role and --workload', () => {
    expect(usageError(() => createTokenRequest({}))).toContain('--role ROLE or --workload');
    expect(usageError(() => createTokenRequest({ role: 'admin', workload: 'a/b' }))).toContain('not both');
    expect(usageError(() => createTokenRequest({ workload: 'a/b', project: ['a'] }))).toContain('--project goes with --role');
    expect(usageError(() => createTokenRequest({ role: 'admin', build: true }))).toContain('--build goes with --workload');
  });
});

describe('sg serve options', () => {
  it('flags win over SG_* variables, which win over defaults', () => {
    expect(serverOptions({ addr: '127.0.0.1:0' }, {})).toEqual({ addr: '127.0.0.1:0', dataDir: './data', logLevel: 'info', consoleAddr: '127.0.0.1:8080', consoleAddrIsDefault: true });
    expect(serverOptions({ addr: 'a:1' }, { SG_DATA_DIR: '/d', SG_STORE_URI: 'mongodb://m', SG_LOG_LEVEL: 'warn' })).toEqual({
      addr: 'a:1',
      dataDir: '/d',
      storeUri: 'mongodb://m',
      logLevel: 'warn',
      consoleAddr: '127.0.0.1:8080', consoleAddrIsDefault: true,
    });
    expect(
      serverOptions(
        { addr: 'a:1', data: '/x', store: 'mongodb://n', logLevel: 'debug', insecure: true, tlsCert: 'c', tlsKey: 'k', tlsClientCa: 'ca', metricsAddr: ':9' },
        { SG_DATA_DIR: '/d', SG_STORE_URI: 'mongodb://m', SG_LOG_LEVEL: 'warn' },
      ),
    ).toEqual({
      addr: 'a:1',
      dataDir: '/x',
      storeUri: 'mongodb://n',
      logLevel: 'debug',
      insecure: true,
      tlsCert: 'c',
      tlsKey: 'k',
      tlsClientCa: 'ca',
      metricsAddr: ':9',
      consoleAddr: '127.0.0.1:8080', consoleAddrIsDefault: true,
    });
  });
  it('serves the console at 127.0.0.1:8080 unless --console-addr, SG_CONSOLE_ADDR or the config file says otherwise', () => {
    expect(serverOptions({}, {})).toMatchObject({ consoleAddr: '127.0.0.1:8080', consoleAddrIsDefault: true });
    expect(serverOptions({ consoleAddr: 'off' }, { SG_CONSOLE_ADDR: '127.0.0.1:9' })).toMatchObject({ consoleAddr: 'off' });
    expect(serverOptions({ consoleAddr: 'off' }, {}).consoleAddrIsDefault).toBeUndefined();
    expect(serverOptions({}, { SG_CONSOLE_ADDR: '127.0.0.1:9' })).toEqual(expect.objectContaining({ consoleAddr: '127.0.0.1:9' }));
    expect(serverOptions({}, {}, { consoleAddr: '127.0.0.1:7' }).consoleAddr).toBe('127.0.0.1:7');
    expect(serverOptions({ consoleAddr: '[::1]:0' }, {}).consoleAddr).toBe('[::1]:0');
    expect(usageError(() => serverOptions({ consoleAddr: '8080' }, {}))).toContain('--console-addr must be HOST:PORT or off');
  });
  it('refuses half a TLS configuration and unknown log levels', () => {
    expect(usageError(() => serverOptions({ addr: 'a:1', tlsCert: 'c' }, {}))).toContain('go together');
    expect(usageError(() => serverOptions({ addr: 'a:1', tlsClientCa: 'ca' }, {}))).toContain('needs --tls-cert');
    expect(usageError(() => serverOptions({ addr: 'a:1', logLevel: 'loud' }, {}))).toContain('--log-level');
  });
  it('takes the stream cap and the idle-connection bound from flags, SG_* variables or the config file', () => {
    expect(serverOptions({ addr: 'a:1', maxStreamsPerToken: '6000', maxConnectionIdle: '30s' }, {})).toMatchObject({ maxStreamsPerToken: 6000, maxConnectionIdleMs: 30_000 });
    expect(serverOptions({ addr: 'a:1' }, { SG_MAX_STREAMS_PER_TOKEN: '7', SG_MAX_CONNECTION_IDLE: '2m' })).toMatchObject({ maxStreamsPerToken: 7, maxConnectionIdleMs: 120_000 });
    expect(serverOptions({ addr: 'a:1' }, {}, { maxStreamsPerToken: '9' })).toMatchObject({ maxStreamsPerToken: 9 });
    expect(usageError(() => serverOptions({ addr: 'a:1', maxStreamsPerToken: '0' }, {}))).toContain('--max-streams-per-token');
    expect(usageError(() => serverOptions({ addr: 'a:1', maxStreamsPerToken: 'lots' }, {}))).toContain('--max-streams-per-token');
    expect(usageError(() => serverOptions({ addr: 'a:1', maxConnectionIdle: '10ms' }, {}))).toContain('--max-connection-idle');
  });
});

const program = await buildProgram();

describe('command tree', () => {
  const all = (c = program, prefix = 'sg'): string[] =>
    c.commands.flatMap((s) => [`${prefix} ${s.name()}`, ...all(s, `${prefix} ${s.name()}`)]);

  it('has every command of the CLI contract and the rest of the API', () => {
    const names = all();
    for (const cmd of [
      'sg serve',
      'sg project create', 'sg project get', 'sg project list', 'sg project delete', 'sg project execution-keys',
      'sg workload create', 'sg workload get', 'sg workload list', 'sg workload update', 'sg workload delete',
      'sg addon create', 'sg addon get', 'sg addon list', 'sg addon update', 'sg addon delete',
      'sg group create', 'sg group get', 'sg group list', 'sg group delete', 'sg group set', 'sg group unset',
      'sg group import', 'sg group settings', 'sg group restrict', 'sg group unrestrict', 'sg group file add',
      'sg group file rm', 'sg group link', 'sg group unlink', 'sg group history', 'sg group rollback',
      'sg group preview', 'sg group restart-dependents',
      'sg resolve', 'sg explain', 'sg token create', 'sg token list', 'sg token revoke', 'sg role list', 'sg whoami',
      'sg k8s-injector serve', 'sg k8s-injector manifests',
    ]) {
      expect(names).toContain(cmd);
    }
  });

  it('describes every command and every flag for --help', () => {
    const walk = (c = program): void => {
      for (const s of c.commands) {
        expect(s.description(), `${s.name()} has a description`).not.toBe('');
        for (const o of s.options) expect(o.description, `${s.name()} ${o.flags}`).not.toBe('');
        walk(s);
      }
    };
    walk();
  });

  it('gives --expected-revision to every mutating command the API lets check a revision', () => {
    const find = (path: string) => commandPath(program, path.split(' ').slice(1)).at(-1)!;
    for (const path of [
      'sg workload update', 'sg workload delete', 'sg addon update', 'sg addon delete', 'sg group delete', 'sg group set',
      'sg group unset', 'sg group import', 'sg group settings', 'sg group restrict', 'sg group unrestrict',
      'sg group file add', 'sg group file rm', 'sg group link', 'sg group unlink', 'sg group rollback', 'sg group preview',
    ]) {
      const cmd = find(path);
      expect(cmd.name(), path).toBe(path.split(' ').at(-1));
      expect(cmd.options.map((o) => o.long), path).toContain('--expected-revision');
    }
  });

  it('gives --json to every client command', () => {
    const leaves = (c = program): typeof program.commands =>
      c.commands.flatMap((s) => (s.commands.length ? leaves(s) : [s]));
    for (const leaf of leaves()) {
      // serve runs the server (or the injector); completion prints a shell script, k8s-injector
      // manifests prints Kubernetes YAML for kubectl: none has a result to print as JSON.
      if (['serve', 'help', 'completion', 'manifests'].includes(leaf.name())) continue;
      expect(leaf.options.map((o) => o.long), leaf.name()).toContain('--json');
    }
  });
});

describe('sg serve settings: flags, then SG_* variables, then the config file', () => {
  it('takes each source in order and parses durations', async () => {
    const { readConfigFile } = await import('../../cli/commands/serve.js');
    const config = await readConfigFile('c.yaml', 'addr: 127.0.0.1:7000\ndata: /cfg\nheartbeat: 5s\npollInterval: 100ms\nlogLevel: debug\n');
    expect(serverOptions({}, {}, config)).toEqual({ addr: '127.0.0.1:7000', dataDir: '/cfg', logLevel: 'debug', heartbeatMs: 5000, pollMs: 100, consoleAddr: '127.0.0.1:8080', consoleAddrIsDefault: true });
    expect(serverOptions({}, { SG_DATA_DIR: '/env', SG_LISTEN_ADDR: '127.0.0.1:8000' }, config)).toMatchObject({ addr: '127.0.0.1:8000', dataDir: '/env' });
    expect(serverOptions({ data: '/flag' }, { SG_DATA_DIR: '/env' }, config)).toMatchObject({ dataDir: '/flag' });
    expect(serverOptions({ masterKeyFile: '/k' }, {})).toMatchObject({ masterKeyFile: '/k' });
  });

  it('refuses unknown settings and malformed durations with one clear message', async () => {
    const { readConfigFile } = await import('../../cli/commands/serve.js');
    await expect(readConfigFile('c.yaml', 'nope: 1\n')).rejects.toThrow(/unknown setting "nope"/);
    await expect(readConfigFile('c.yaml', '- a\n')).rejects.toThrow(/expected a mapping/);
    expect(usageError(() => serverOptions({ heartbeat: 'soon' }, {}))).toMatch(/--heartbeat must be a duration/);
  });
});
