/**
 * The Kubernetes examples in deploy/kubernetes: every document parses the way kubectl parses
 * it (YAML 1.1: `0400` is octal, `on` is a boolean), is a well-formed object, references only
 * volumes, Secrets, ConfigMaps and keys that the examples define, commits no secret value,
 * and uses only flags and SG_* variables that `sg` and `sg-agent` document.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT, SG, SG_AGENT, runNode } from '../helpers/server-process.js';

const DIR = join(ROOT, 'deploy/kubernetes');

type Obj = Record<string, any>;

interface Doc {
  file: string;
  index: number;
  obj: Obj;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();

function loadDocs(): Doc[] {
  const docs: Doc[] = [];
  for (const file of files) {
    const text = readFileSync(join(DIR, file), 'utf8');
    parseAllDocuments(text, { version: '1.1', prettyErrors: true }).forEach((d, index) => {
      if (d.errors.length) throw new Error(`${file} document ${index}: ${d.errors.map((e) => e.message).join('; ')}`);
      if (d.warnings.length) throw new Error(`${file} document ${index}: ${d.warnings.map((e) => e.message).join('; ')}`);
      const obj = d.toJS({ maxAliasCount: 0 }) as Obj | null;
      if (obj !== null) docs.push({ file, index, obj });
    });
  }
  return docs;
}

const docs = loadDocs();
const where = (d: Doc) => `${d.file}#${d.index} ${d.obj.kind}/${d.obj.metadata?.name}`;
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass']);
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod']);
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PLACEHOLDER = /REPLACE-ME/;

function podSpec(o: Obj): Obj | undefined {
  switch (o.kind) {
    case 'Pod':
      return o.spec;
    case 'CronJob':
      return o.spec?.jobTemplate?.spec?.template?.spec;
    default:
      return WORKLOAD_KINDS.has(o.kind) ? o.spec?.template?.spec : undefined;
  }
}

function containersOf(spec: Obj): Obj[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

const workloads = docs.filter((d) => WORKLOAD_KINDS.has(d.obj.kind));
const find = (kind: string, ns: string | undefined, name: string) =>
  docs.find((d) => d.obj.kind === kind && d.obj.metadata.name === name && (CLUSTER_SCOPED.has(kind) || d.obj.metadata.namespace === ns));

/** Keys of a Secret (data and stringData) or ConfigMap (data and binaryData). */
function keysOf(o: Obj): string[] {
  return [...Object.keys(o.data ?? {}), ...Object.keys(o.stringData ?? {}), ...Object.keys(o.binaryData ?? {})];
}

function allStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => allStrings(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => allStrings(x, out));
  return out;
}

/** The full command line of a container: command + args. */
const argv = (c: Obj): string[] => [...(c.command ?? []), ...(c.args ?? [])];
const isAgent = (c: Obj) => argv(c).includes('sg-agent');
/** Our images, and application images built FROM the agent image (they run sg-agent). */
const isSecretGroupsImage = (c: Obj) => /secret-groups-(server|agent)/.test(c.image) || isAgent(c);
const envOf = (c: Obj): Record<string, Obj> => Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, e]));

describe('deploy/kubernetes manifests', () => {
  it('exist and every document parses as YAML 1.1 without errors or warnings', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
    expect(docs.length).toBeGreaterThanOrEqual(15);
  });

  it('every document has apiVersion, kind, a valid metadata.name and, when namespaced, an example namespace', () => {
    const namespaces = new Set(docs.filter((d) => d.obj.kind === 'Namespace').map((d) => d.obj.metadata.name));
    for (const d of docs) {
      expect(typeof d.obj.apiVersion, where(d)).toBe('string');
      expect(typeof d.obj.kind, where(d)).toBe('string');
      expect(d.obj.metadata?.name, where(d)).toMatch(DNS_SUBDOMAIN);
      if (!CLUSTER_SCOPED.has(d.obj.kind)) expect(namespaces, `${where(d)} namespace`).toContain(d.obj.metadata.namespace);
    }
  });

  it('names are unique per kind and namespace', () => {
    const seen = new Set<string>();
    for (const d of docs) {
      const id = `${d.obj.kind}/${d.obj.metadata.namespace ?? ''}/${d.obj.metadata.name}`;
      expect(seen.has(id), `duplicate ${id}`).toBe(false);
      seen.add(id);
    }
  });

  it('controllers select their own pod template', () => {
    for (const d of workloads.filter((w) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(w.obj.kind))) {
      const labels = d.obj.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(d.obj.spec.selector.matchLabels)) expect(labels[k], `${where(d)} selector ${k}`).toBe(v);
    }
  });

  it('every container has a name and a pinned image (a tag other than latest)', () => {
    for (const d of workloads) {
      const names = new Set<string>();
      for (const c of containersOf(podSpec(d.obj)!)) {
        expect(c.name, where(d)).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        expect(names.has(c.name), `${where(d)} duplicate container ${c.name}`).toBe(false);
        names.add(c.name);
        expect(c.image, `${where(d)} ${c.name}`).toMatch(/^[\w.\-/]+:[\w.-]+$/);
        expect(c.image, `${where(d)} ${c.name}`).not.toMatch(/:latest$/);
      }
    }
  });

  it('every volumeMount names a volume of its pod, and volume names are unique', () => {
    for (const d of workloads) {
      const spec = podSpec(d.obj)!;
      const volumes = (spec.volumes ?? []).map((v: Obj) => v.name);
      expect(new Set(volumes).size, `${where(d)} duplicate volume`).toBe(volumes.length);
      for (const c of containersOf(spec)) {
        for (const m of c.volumeMounts ?? []) expect(volumes, `${where(d)} ${c.name} mounts ${m.name}`).toContain(m.name);
      }
    }
  });

  it('every Secret and ConfigMap referenced (volumes, env, envFrom, pull secrets) exists in the same namespace, with the key', () => {
    for (const d of workloads) {
      const ns = d.obj.metadata.namespace;
      const spec = podSpec(d.obj)!;
      const need = (kind: 'Secret' | 'ConfigMap', name: string, key?: string) => {
        const target = find(kind, ns, name);
        expect(target, `${where(d)} references ${kind} ${ns}/${name}`).toBeDefined();
        if (key !== undefined) expect(keysOf(target!.obj), `${where(d)} references key ${key} of ${kind} ${name}`).toContain(key);
      };
      for (const v of spec.volumes ?? []) {
        if (v.secret) {
          need('Secret', v.secret.secretName);
          for (const item of v.secret.items ?? []) need('Secret', v.secret.secretName, item.key);
        }
        if (v.configMap) {
          need('ConfigMap', v.configMap.name);
          for (const item of v.configMap.items ?? []) need('ConfigMap', v.configMap.name, item.key);
        }
        if (v.emptyDir !== undefined) expect(v.emptyDir, `${where(d)} volume ${v.name}`).toBeTypeOf('object');
        if (typeof v.secret?.defaultMode === 'number') expect(v.secret.defaultMode, `${where(d)} ${v.name} defaultMode`).toBeLessThanOrEqual(0o777);
      }
      for (const ps of spec.imagePullSecrets ?? []) need('Secret', ps.name);
      for (const c of containersOf(spec)) {
        for (const e of c.env ?? []) {
          if (e.valueFrom?.secretKeyRef) need('Secret', e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
          if (e.valueFrom?.configMapKeyRef) need('ConfigMap', e.valueFrom.configMapKeyRef.name, e.valueFrom.configMapKeyRef.key);
        }
        for (const e of c.envFrom ?? []) {
          if (e.secretRef) need('Secret', e.secretRef.name);
          if (e.configMapRef) need('ConfigMap', e.configMapRef.name);
        }
      }
      if (spec.serviceAccountName) expect(find('ServiceAccount', ns, spec.serviceAccountName), `${where(d)} service account`).toBeDefined();
    }
  });

  it('Secrets hold nothing but obvious placeholders', () => {
    const secrets = docs.filter((d) => d.obj.kind === 'Secret');
    expect(secrets.length).toBeGreaterThanOrEqual(5);
    for (const d of secrets) {
      expect(d.obj.data, `${where(d)}: use stringData placeholders, not base64 data`).toBeUndefined();
      const values = Object.values(d.obj.stringData ?? {});
      expect(values.length, where(d)).toBeGreaterThan(0);
      for (const v of values) expect(v, where(d)).toMatch(PLACEHOLDER);
    }
  });

  it('no credential is given inline: sensitive env vars come from Secrets, no URI carries a password', () => {
    for (const d of workloads) {
      for (const c of containersOf(podSpec(d.obj)!)) {
        for (const e of c.env ?? []) {
          if (/TOKEN$|PASSWORD|SECRET|MASTER_KEY|STORE_URI|PRIVATE/.test(e.name)) {
            expect(e.value, `${where(d)} ${c.name} ${e.name} must come from a Secret`).toBeUndefined();
          }
        }
      }
    }
    for (const d of docs.filter((x) => x.obj.kind !== 'Secret')) {
      for (const s of allStrings(d.obj)) {
        expect(s, where(d)).not.toMatch(/:\/\/[^/\s:@]+:[^/\s@]+@/);
        expect(s, where(d)).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
        expect(s, where(d)).not.toMatch(/\bsg_[A-Za-z0-9_-]{16,}/);
      }
    }
  });

  it('secret-groups containers run as a non-root user without privilege escalation', () => {
    for (const d of workloads) {
      const spec = podSpec(d.obj)!;
      for (const c of containersOf(spec).filter(isSecretGroupsImage)) {
        const sc = { ...(spec.securityContext ?? {}), ...(c.securityContext ?? {}) };
        expect(sc.runAsNonRoot, `${where(d)} ${c.name}`).toBe(true);
        expect(sc.runAsUser, `${where(d)} ${c.name}`).toBeGreaterThan(0);
        expect(c.securityContext?.allowPrivilegeEscalation, `${where(d)} ${c.name}`).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, `${where(d)} ${c.name}`).toBe(true);
      }
    }
  });

  it('Services select pods that exist and target ports they declare', () => {
    const services = docs.filter((d) => d.obj.kind === 'Service');
    expect(services.length).toBeGreaterThan(0);
    for (const s of services) {
      const pods = workloads.filter(
        (w) =>
          w.obj.metadata.namespace === s.obj.metadata.namespace &&
          Object.entries(s.obj.spec.selector).every(([k, v]) => w.obj.spec.template?.metadata?.labels?.[k] === v),
      );
      expect(pods.length, `${where(s)} selects nothing`).toBeGreaterThan(0);
      const ports = pods.flatMap((p) => containersOf(podSpec(p.obj)!).flatMap((c) => c.ports ?? []));
      for (const p of s.obj.spec.ports) {
        if (typeof p.targetPort === 'string') expect(ports.map((x: Obj) => x.name), `${where(s)} ${p.name}`).toContain(p.targetPort);
      }
    }
  });

  describe('the examples the issue asks for', () => {
    const deployment = (ns: string, name: string) => find('Deployment', ns, name)!;
    const server = () => deployment('secret-groups', 'secret-groups');

    it('the server Deployment takes its MongoDB URI and master key from Secrets and serves TLS', () => {
      const c = podSpec(server().obj)!.containers[0];
      const a = argv(c);
      expect(a).toContain('serve');
      expect(a).toContain('--addr=0.0.0.0:50051');
      expect(a.some((x) => x.startsWith('--tls-cert=')) && a.some((x) => x.startsWith('--tls-key=')), a.join(' ')).toBe(true);
      const env = envOf(c);
      expect(env.SG_STORE_URI?.valueFrom?.secretKeyRef?.name).toBe('secret-groups-store');
      expect(env.SG_MASTER_KEY?.valueFrom?.secretKeyRef?.name).toBe('secret-groups-master-key');
      const tlsDir = a.find((x) => x.startsWith('--tls-cert='))!.slice('--tls-cert='.length).replace(/\/[^/]+$/, '');
      expect(c.volumeMounts.map((m: Obj) => m.mountPath)).toContain(tlsDir);
      expect(find('Service', 'secret-groups', 'secret-groups')).toBeDefined();
    });

    it('a workload whose entrypoint is wrapped by sg-agent exec', () => {
      const c = podSpec(deployment('shop', 'api').obj)!.containers[0];
      const a = argv(c);
      const dashdash = a.indexOf('--', a.indexOf('exec'));
      expect(a.slice(a.indexOf('sg-agent'), a.indexOf('sg-agent') + 2)).toEqual(['sg-agent', 'exec']);
      expect(dashdash).toBeGreaterThan(0);
      expect(a.length - dashdash - 1, 'a program after --').toBeGreaterThan(0);
      const env = envOf(c);
      for (const k of ['SG_ADDR', 'SG_PROJECT', 'SG_WORKLOAD', 'SG_TOKEN_FILE']) expect(env[k]?.value, k).toBeTruthy();
      expectTokenFileMounted(deployment('shop', 'api').obj, c);
    });

    it('a workload with the agent as a sidecar writing files to a shared volume', () => {
      const spec = podSpec(deployment('shop', 'worker').obj)!;
      const agent = containersOf(spec).find(isAgent)!;
      expect(agent, 'an agent container').toBeDefined();
      const a = argv(agent);
      expect(a).toContain('write');
      expect(a).toContain('--watch');
      expect(agent.restartPolicy, 'a native sidecar').toBe('Always');
      const out = a.find((x) => x.startsWith('--out='))!.slice('--out='.length);
      const shared = agent.volumeMounts.find((m: Obj) => out.startsWith(`${m.mountPath}/`));
      expect(shared, `--out ${out} is on a mounted volume`).toBeDefined();
      const volume = spec.volumes.find((v: Obj) => v.name === shared.name);
      expect(volume.emptyDir, 'the shared volume is an emptyDir').toBeDefined();
      const app = spec.containers.find((c: Obj) => !isAgent(c));
      expect(app.volumeMounts.map((m: Obj) => m.name), 'the application mounts it too').toContain(shared.name);
      expect(argv(app).join(' ')).toContain(out);
      expectTokenFileMounted(deployment('shop', 'worker').obj, agent);
    });

    it('a build runner Job using sg-agent build-args', () => {
      const job = find('Job', 'shop', 'build-api')!;
      const spec = podSpec(job.obj)!;
      const agent = containersOf(spec).find(isAgent)!;
      expect(argv(agent)).toContain('build-args');
      const out = argv(agent).find((x) => x.startsWith('--out='))!.slice('--out='.length);
      const builder = spec.containers[0];
      expect(argv(builder).join(' ')).toContain(`xargs -0`);
      expect(argv(builder).join(' ')).toContain(out);
      expectTokenFileMounted(job.obj, agent);
    });

    it('agents address the server Service', () => {
      for (const d of workloads) {
        for (const c of containersOf(podSpec(d.obj)!).filter(isAgent)) {
          expect(envOf(c).SG_ADDR?.value, `${where(d)} ${c.name}`).toBe('secret-groups.secret-groups.svc.cluster.local:50051');
        }
      }
    });

    function expectTokenFileMounted(o: Obj, c: Obj) {
      const file = envOf(c).SG_TOKEN_FILE.value as string;
      const mount = c.volumeMounts.find((m: Obj) => file.startsWith(`${m.mountPath}/`));
      expect(mount, `SG_TOKEN_FILE ${file} is on a mounted volume`).toBeDefined();
      const volume = podSpec(o)!.volumes.find((v: Obj) => v.name === mount.name);
      const secret = find('Secret', o.metadata.namespace, volume.secret.secretName)!;
      expect(keysOf(secret.obj)).toContain(file.slice(mount.mountPath.length + 1));
    }
  });

  it('uses only flags and SG_* variables that sg serve and sg-agent document', async () => {
    const help = async (script: string, args: string[]) => {
      const r = await runNode(script, args);
      return `${r.stdout}${r.stderr}`;
    };
    const serveHelp = await help(SG, ['serve', '--help']);
    const sgHelp = await help(SG, ['--help']);
    const agentHelp: Record<string, string> = {};
    for (const cmd of ['exec', 'write', 'build-args']) agentHelp[cmd] = await help(SG_AGENT, [cmd, '--help']);
    for (const d of workloads) {
      for (const c of containersOf(podSpec(d.obj)!)) {
        const a = argv(c);
        let text: string | undefined;
        if (isAgent(c)) text = agentHelp[a[a.indexOf('sg-agent') + 1]!];
        else if (a[0] === 'serve') text = `${serveHelp}\n${sgHelp}`;
        if (text === undefined) continue;
        expect(text, `${where(d)} ${c.name}: ${a.join(' ')}`).toBeTruthy();
        const end = a.indexOf('--') === -1 ? a.length : a.indexOf('--');
        for (const flag of a.slice(0, end).filter((x) => x.startsWith('--'))) {
          const name = flag.split('=')[0]!;
          expect(text, `${where(d)} ${c.name} flag ${name}`).toMatch(new RegExp(`(^|\\s)${name}\\b`));
        }
        for (const e of c.env ?? []) {
          if (e.name.startsWith('SG_')) expect(text, `${where(d)} ${c.name} env ${e.name}`).toContain(e.name);
        }
      }
    }
  });
});
