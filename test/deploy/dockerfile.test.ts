/**
 * The Dockerfile, checked without a Docker engine: its stages, users, entrypoints, what it
 * copies (which must exist and survive .dockerignore), and that nothing secret is baked in.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, SG, SG_AGENT, runNode } from '../helpers/server-process.js';

interface Instruction {
  op: string;
  /** The raw argument text, continuation lines joined. */
  args: string;
  line: number;
}

interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions: comments dropped, backslash continuations joined. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  let buf = '';
  let start = 0;
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (buf === '' && /^\s*(#|$)/.test(line)) return;
    if (buf !== '' && /^\s*#/.test(line)) return;
    if (buf === '') start = i + 1;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      return;
    }
    buf += line;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buf);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot parse "${buf}"`);
    instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  });
  if (buf !== '') throw new Error('Dockerfile ends inside a continuation line');

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`Dockerfile line ${ins.line}: bad FROM`);
      const base = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => globalArgs[(a ?? b)!] ?? '');
      stages.push({ name: m[2] ?? String(stages.length), base, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.op !== 'ARG') throw new Error(`Dockerfile line ${ins.line}: ${ins.op} before the first FROM`);
      const [k, v] = ins.args.split('=');
      globalArgs[k!] = v ?? '';
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return { args: globalArgs, stages };
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const { stages } = parseDockerfile(dockerfile);
const stage = (name: string) => {
  const s = stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};
/** Instructions of a stage including those of the stages it is built FROM. */
const effective = (s: Stage): Instruction[] => {
  const parent = stages.find((x) => x.name === s.base);
  return [...(parent ? effective(parent) : []), ...s.instructions];
};
const lastOf = (s: Stage, op: string) => effective(s).filter((i) => i.op === op).at(-1);
const execForm = (i: Instruction | undefined): string[] => {
  expect(i, 'instruction present').toBeDefined();
  const parsed = JSON.parse(i!.args) as unknown;
  expect(Array.isArray(parsed), `${i!.op} at line ${i!.line} uses the exec (JSON) form`).toBe(true);
  return parsed as string[];
};

/** .dockerignore rules, with Docker's semantics: last match wins, a match on a parent excludes. */
function dockerignore(): (path: string) => boolean {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]!;
        if (c === '*' && pattern[i + 1] === '*') {
          i++;
          if (pattern[i + 1] === '/') {
            i++;
            re += '(?:.*/)?';
          } else re += '.*';
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (path: string) => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const r of rules) if (prefixes.some((p) => r.re.test(p))) excluded = !r.negate;
    return excluded;
  };
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(relative(ROOT, p));
  }
  return out;
}

describe('Dockerfile', () => {
  it('has the build, probe, runtime, agent and server stages, server last (the default target)', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'probe', 'runtime', 'agent', 'server']);
    expect(stage('agent').base).toBe('runtime');
    expect(stage('server').base).toBe('runtime');
  });

  it('pins every base image to a version', () => {
    for (const s of stages.filter((x) => !stages.some((y) => y.name === x.base))) {
      expect(s.base, `stage ${s.name}`).toMatch(/^[\w./-]+:\d+(\.\d+)*[\w.-]*$/);
    }
    expect(stage('build').base).toBe(stage('runtime').base);
  });

  it('builds with npm ci (generate + compile) and keeps production dependencies only', () => {
    const runs = stage('build').instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm prune --omit=dev/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare, 'npm ci runs prepare, which builds').toMatch(/build/);
  });

  it('copies into the runtime only production node_modules, dist/ and proto/ from the build stage', () => {
    const copies = stage('runtime').instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD');
    for (const c of copies) expect(c.args, `line ${c.line}`).toMatch(/^--from=build\s/);
    const sources = copies.map((c) => c.args.split(/\s+/)[1]);
    expect(sources).toEqual(expect.arrayContaining(['/src/node_modules', '/src/dist', '/src/proto']));
    for (const s of stages.filter((x) => x.name !== 'build')) {
      for (const c of s.instructions.filter((i) => i.op === 'COPY')) expect(c.args, `stage ${s.name} line ${c.line} copies from a stage`).toMatch(/^--from=/);
    }
    expect(stages.flatMap((s) => s.instructions).some((i) => i.op === 'ADD'), 'ADD (remote URLs, auto-extract) is not used').toBe(false);
  });

  it('runs agent and server as a numeric non-root user', () => {
    for (const name of ['agent', 'server']) {
      const user = lastOf(stage(name), 'USER');
      expect(user, name).toBeDefined();
      const [uid, gid] = user!.args.split(':');
      expect(Number(uid), `${name} uid`).toBeGreaterThan(0);
      expect(Number(gid ?? '1'), `${name} gid`).toBeGreaterThan(0);
      const after = effective(stage(name)).slice(effective(stage(name)).indexOf(user!) + 1);
      expect(after.filter((i) => i.op === 'RUN' || i.op === 'USER'), `${name}: nothing runs after USER`).toEqual([]);
    }
    expect(dockerfile).toMatch(/useradd[^\n]*--uid 10001/);
  });

  it('the agent entrypoint is `sg-agent exec ... --`, so the image CMD is the wrapped program', () => {
    const ep = execForm(lastOf(stage('agent'), 'ENTRYPOINT'));
    const i = ep.indexOf('sg-agent');
    expect(ep.slice(i, i + 2)).toEqual(['sg-agent', 'exec']);
    expect(ep.at(-1)).toBe('--');
  });

  it('the server serves on 0.0.0.0:50051 with /data and TLS from mounted files, using flags sg serve knows', async () => {
    const ep = execForm(lastOf(stage('server'), 'ENTRYPOINT'));
    const cmd = execForm(lastOf(stage('server'), 'CMD'));
    expect(ep.at(-1)).toBe('sg');
    expect(cmd[0]).toBe('serve');
    const flag = (f: string) => cmd[cmd.indexOf(f) + 1];
    expect(flag('--addr')).toBe('0.0.0.0:50051');
    expect(flag('--data')).toBe('/data');
    expect(flag('--tls-cert')).toMatch(/^\/etc\/sg\/tls\//);
    expect(flag('--tls-key')).toMatch(/^\/etc\/sg\/tls\//);
    expect(cmd).not.toContain('--insecure');
    const help = await runNode(SG, ['serve', '--help']);
    for (const f of cmd.filter((x) => x.startsWith('--'))) expect(help.stdout, f).toMatch(new RegExp(`\\s${f}\\b`));
    expect(dockerfile, 'documents --insecure for a mesh').toMatch(/--insecure/);
  });

  it('links sg and sg-agent to the package bins, which exist after the build and start with a node shebang', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    for (const [name, path] of Object.entries(pkg.bin)) {
      expect(dockerfile).toContain(`ln -s /app/${path} /usr/local/bin/${name}`);
      expect(existsSync(join(ROOT, path)), `${path} (run npm run build)`).toBe(true);
      expect(readFileSync(join(ROOT, path), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    }
  });

  it('the agent image runs the injector\'s commands: the injected agent and the webhook, from PATH', async () => {
    const { injectPod } = await import('../../server/k8s-injector/inject.js');
    const { injectorObjects } = await import('../../server/k8s-injector/manifests.js');
    const pod = { metadata: {}, spec: { containers: [{ name: 'app', image: 'x', command: ['app'] }] } };
    const cfg = { project: 'p', workload: 'w', mode: 'sidecar' as const, sidecar: true, containers: ['app'], restart: false, job: false };
    const injected = injectPod(pod, cfg, { agentImage: 'agent', serverAddr: 'a:1' });
    if (!injected.ok) throw new Error(injected.reason);
    const agentCmd = injected.pod.spec!.initContainers![0]!.command!;
    const deployment = injectorObjects({ namespace: 'ns', agentImage: 'agent', serverAddr: 'a:1', caBundle: 'x' }).find((o) => o.kind === 'Deployment') as {
      spec: { template: { spec: { containers: { command: string[] }[] } } };
    };
    const webhookCmd = deployment.spec.template.spec.containers[0]!.command;
    // Both name programs the runtime stage links into /usr/local/bin (or tini, which it installs).
    expect(agentCmd[0]).toBe('sg-agent');
    expect(dockerfile).toContain('ln -s /app/dist/bin/sg-agent.cjs /usr/local/bin/sg-agent');
    expect(webhookCmd.slice(0, 3)).toEqual(['/usr/bin/tini', '--', 'sg']);
    expect(dockerfile).toContain('ln -s /app/dist/bin/sg.cjs /usr/local/bin/sg');
    expect(dockerfile).toMatch(/apt-get install[^\n]*\btini\b/);
    // The agent's own flags in the injected command exist.
    const help = await runNode(SG_AGENT, ['write', '--help']);
    for (const f of injected.pod.spec!.initContainers![0]!.args!.filter((a) => a.startsWith('--'))) expect(help.stdout, f).toMatch(new RegExp(`\\s${f}\\b`));
  });

  it('installs the same grpc-health-probe version as CI', () => {
    const ci = readFileSync(join(ROOT, '.ci/install-go-tools.sh'), 'utf8');
    const ciVersion = /GRPC_HEALTH_PROBE_VERSION:-(v[\d.]+)/.exec(ci)?.[1];
    expect(ciVersion).toBeDefined();
    expect(dockerfile).toContain(`GRPC_HEALTH_PROBE_VERSION=${ciVersion}`);
  });

  it('bakes in no secret: no credential-like ENV or ARG values, no token, key or data files', () => {
    for (const s of stages) {
      for (const i of s.instructions.filter((x) => x.op === 'ENV' || x.op === 'ARG')) {
        for (const m of i.args.matchAll(/(\w+)(?:=|\s+)(\S*)/g)) {
          if (/TOKEN|PASSWORD|SECRET|MASTER_KEY|PRIVATE|STORE_URI|CREDENTIAL/i.test(m[1]!)) {
            throw new Error(`line ${i.line}: ${i.op} ${m[1]} must not be set in the image`);
          }
        }
      }
      for (const i of s.instructions.filter((x) => x.op === 'COPY')) {
        expect(i.args, `line ${i.line}`).not.toMatch(/\.token\b|master\.key|\.pem\b|\.env\b|\bdata\//);
      }
    }
    expect(dockerfile).not.toMatch(/curl[^\n|]*\|\s*(ba)?sh/);
  });

  it('copies from the build context only paths that exist and that .dockerignore keeps', () => {
    const ignored = dockerignore();
    const copies = stage('build').instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        const path = join(ROOT, src);
        expect(existsSync(path), `COPY ${src} (line ${c.line})`).toBe(true);
        const files = statSync(path).isDirectory() ? walk(path) : [relative(ROOT, path)];
        expect(files.length, src).toBeGreaterThan(0);
        for (const f of files) expect(ignored(f), `${f} is excluded by .dockerignore but COPY needs it`).toBe(false);
      }
    }
  });

  it('.dockerignore keeps local state, credentials and build output out of the context', () => {
    const ignored = dockerignore();
    for (const p of ['node_modules/x/index.js', 'dist/cli/main.js', 'gen/x.ts', '.git/config', 'data/sg.db', 'data/admin.token', 'x/master.key', '.env', 'config/prod.env', 'server/tls.pem', 'some/dir/data/sg.sqlite']) {
      expect(ignored(p), p).toBe(true);
    }
    for (const p of ['package.json', 'package-lock.json', 'cli/main.ts', 'client/index.ts', 'console/main.tsx', 'proto/secretgroups/v1/resources.proto']) expect(ignored(p), p).toBe(false);
  });
});
