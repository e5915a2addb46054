/** The agent's configuration from its command line and environment (see args.ts), checked. */
import { statSync } from 'node:fs';
import { CliError, EXIT } from '../../client/exit-codes.js';
import { SCOPE_BUILD, SCOPE_RUNTIME } from '../../client/wire.js';
import { readTokenFile } from '../session/credentials.js';
import type { AgentConfig } from '../session/open.js';
import type { Parsed } from './args.js';

/**
 * A token file its group or other users may read hands the token to them: said on stderr
 * (never the token), or refused under --strict. The mode is the target's (a Kubernetes secret
 * mount is a symlink; its files are 0644 unless the volume sets defaultMode).
 */
function checkTokenFileMode(file: string, strict: boolean): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return; // reading it says why
  }
  if ((mode & 0o044) === 0) return;
  const who = [mode & 0o040 ? 'its group' : '', mode & 0o004 ? 'every user' : ''].filter(Boolean).join(' and ');
  const what = `--token-file ${file} is readable by ${who} (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`;
  if (strict) throw new CliError(`${what}: refused under --strict; make it readable by its owner only (chmod 600, or defaultMode: 0400 for a Kubernetes secret volume)`, EXIT.usage);
  process.stderr.write(`sg-agent: WARNING: ${what}; make it readable by its owner only (chmod 600), or pass --strict to refuse such a file\n`);
}

export function agentConfig(p: Parsed, forceScope?: 'build'): AgentConfig {
  const v = p.values;
  const project = v.project as string | undefined;
  const workload = v.workload as string | undefined;
  if (!project) throw new CliError('--project (or SG_PROJECT) is required', EXIT.usage);
  if (!workload) throw new CliError('--workload (or SG_WORKLOAD) is required', EXIT.usage);
  let token: string | undefined;
  const tokenFile = v['token-file'] as string | undefined;
  const k8sTokenFile = v['k8s-token-file'] as string | undefined;
  if (tokenFile && k8sTokenFile) throw new CliError('--token-file and --k8s-token-file exclude each other: give one credential', EXIT.usage);
  if (k8sTokenFile) {
    // No mode check: a projected token is mode 0644 inside the pod's own filesystem.
    token = readTokenFile(k8sTokenFile, '--k8s-token-file');
    if (!token) throw new CliError(`--k8s-token-file ${k8sTokenFile} is empty`, EXIT.usage);
  } else if (tokenFile) {
    checkTokenFileMode(tokenFile, Boolean(v.strict));
    token = readTokenFile(tokenFile);
  } else token = process.env.SG_TOKEN;
  if (!token) {
    throw new CliError(
      'no token: set SG_TOKEN, --token-file (a workload token from `sg token create --workload PROJECT/NAME`) or --k8s-token-file (a Kubernetes service-account token)',
      EXIT.usage,
    );
  }
  const scope = (forceScope ?? v.scope) === 'build' ? SCOPE_BUILD : SCOPE_RUNTIME;
  return {
    addr: v.addr as string,
    token,
    ca: v.ca as string | undefined,
    cert: v.cert as string | undefined,
    key: v.key as string | undefined,
    id: { project, workload, scope },
    cacheDir: v['cache-dir'] as string | undefined,
    maxStaleMs: v['max-stale'] as number,
    startTimeoutMs: v['start-timeout'] as number,
    ...(tokenFile ? { tokenFile } : {}),
    ...(k8sTokenFile ? { k8sTokenFile } : {}),
    authGraceMs: (v['auth-grace'] as number | undefined) ?? 30_000,
    waitOnAuthError: Boolean(v['wait-on-auth-error']),
  };
}
