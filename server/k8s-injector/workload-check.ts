/**
 * "Does PROJECT/WORKLOAD exist?", asked of the secret-groups server before a pod is admitted,
 * so that a typo in an annotation is refused at `kubectl apply` rather than found later in a
 * crash-looping agent. The call is GetWorkload with keys_only: it needs a token whose role may
 * read workload records, and the least such role sees keys only (docs/kubernetes.md creates a
 * custom role with `--secret none --config keys`); it never receives a value.
 *
 * The server unreachable is a refusal too, consistent with the webhook's failurePolicy Fail:
 * a pod that needs its variables is not created without them. Positive answers are kept for
 * a short while (a Deployment scaling up asks once); negative ones are not.
 */
import { readFile } from 'node:fs/promises';
import { Code, codeName, RpcError } from '../../client/errors.js';
import { Http2Transport } from '../../client/transport.js';
import { GetWorkloadRequest, GetWorkloadResponse } from '../../gen/light/secretgroups/v1/project_service.js';

export type CheckResult = { ok: true } | { ok: false; reason: string };

export interface WorkloadChecker {
  check(project: string, workload: string): Promise<CheckResult>;
  close(): void;
}

export interface CheckerOptions {
  /** host:port of the server (an https:// prefix, or `ca`, enables TLS). */
  addr: string;
  /** File holding the injector's token; re-read on every check, so a rotated token is used at once. */
  tokenFile: string;
  ca?: string;
  /** Per call; keep it under the webhook's timeoutSeconds. Default 3 s. */
  deadlineMs?: number;
  /** How long a "yes" is remembered. Default 30 s. */
  cacheMs?: number;
}

const METHOD = '/secretgroups.v1.ProjectService/GetWorkload';

export function workloadChecker(o: CheckerOptions): WorkloadChecker {
  const deadlineMs = o.deadlineMs ?? 3000;
  const cacheMs = o.cacheMs ?? 30_000;
  const known = new Map<string, number>();
  let transport: Http2Transport | undefined;
  let token: string | undefined;

  const connection = async (): Promise<Http2Transport | string> => {
    let current: string;
    try {
      current = (await readFile(o.tokenFile, 'utf8')).trim();
    } catch (e) {
      return `the injector cannot read its token file ${o.tokenFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    if (!current) return `the injector's token file ${o.tokenFile} is empty`;
    if (!transport || current !== token) {
      transport?.close();
      token = current;
      transport = new Http2Transport({ addr: o.addr, token: current, ...(o.ca ? { ca: o.ca } : {}) });
    }
    return transport;
  };

  return {
    async check(project, workload) {
      const key = `${project}/${workload}`;
      const until = known.get(key);
      if (until !== undefined && until > Date.now()) return { ok: true };
      const t = await connection();
      if (typeof t === 'string') return { ok: false, reason: t };
      try {
        const reply = await t.unary(METHOD, GetWorkloadRequest.encode(GetWorkloadRequest.fromPartial({ project, name: workload, keysOnly: true })).finish(), deadlineMs);
        GetWorkloadResponse.decode(reply);
        known.set(key, Date.now() + cacheMs);
        return { ok: true };
      } catch (e) {
        known.delete(key);
        return { ok: false, reason: refusal(e, key, o.addr) };
      }
    },
    close() {
      transport?.close();
      transport = undefined;
    },
  };
}

/** A sentence for the user of `kubectl`: what went wrong and what to do; never a token. */
function refusal(e: unknown, key: string, addr: string): string {
  if (!(e instanceof RpcError)) return `checking ${key} with the secret-groups server at ${addr} failed: ${(e as Error).message}`;
  switch (e.code) {
    case Code.NOT_FOUND:
      return `secret-groups has no workload ${key} (check the annotations, or create it: sg workload create ${key.replace('/', ' ')})`;
    case Code.PERMISSION_DENIED:
      return `the injector's token may not read workload ${key}: ${e.details}`;
    case Code.UNAUTHENTICATED:
      return `the secret-groups server refused the injector's token: ${e.details}`;
    case Code.INVALID_ARGUMENT:
      return `secret-groups refused the names ${key}: ${e.details}`;
    case Code.UNAVAILABLE:
    case Code.DEADLINE_EXCEEDED:
      return `the secret-groups server at ${addr} is unreachable (${codeName(e.code)}: ${e.details}); pods that need their variables are not created without them (failurePolicy Fail)`;
    default:
      return `checking ${key} with the secret-groups server at ${addr} failed: ${codeName(e.code)}: ${e.details}`;
  }
}
