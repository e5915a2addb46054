/**
 * The webhook's decision, pure: (AdmissionReview request, settings) → allowed with a JSON Patch,
 * allowed unchanged, or refused with a reason. Whether the project/workload exists is asked of
 * the server afterwards (see workload-check.ts): it is the only part that is not a function of
 * the request.
 */
import jsonpatch, { type Operation } from 'fast-json-patch';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { AdmissionRequest } from './admission.js';
import { parseInjectConfig, type InjectConfig } from './annotations.js';
import { alreadyInjected, injectPod, type InjectorSettings } from './inject.js';

export type Decision =
  /** Not ours, or already injected: admitted as it is. */
  | { allowed: true; patch?: undefined; why: string }
  /** Admitted with this patch, once the server confirms that the workload exists. */
  | { allowed: true; patch: Operation[]; config: InjectConfig }
  | { allowed: false; reason: string };

const isPod = (req: AdmissionRequest) => req.kind.group === '' && req.kind.kind === 'Pod' && !req.subResource;

export function decide(req: AdmissionRequest, settings: InjectorSettings): Decision {
  if (!isPod(req) || req.operation !== 'CREATE') return { allowed: true, why: 'not a pod creation' };
  const pod = req.object as Pod | null | undefined;
  if (!pod || typeof pod !== 'object' || !pod.spec || !Array.isArray(pod.spec.containers)) {
    return { allowed: false, reason: 'the request carries no pod' };
  }
  const parsed = parseInjectConfig(pod);
  if (!parsed.inject) return { allowed: true, why: 'not labelled secret-groups.io/inject=true' };
  if (alreadyInjected(pod)) return { allowed: true, why: 'already injected' };
  if ('error' in parsed) return { allowed: false, reason: parsed.error };
  const injected = injectPod(pod, parsed.config, settings);
  if (!injected.ok) return { allowed: false, reason: injected.reason };
  return { allowed: true, patch: jsonpatch.compare(pod, injected.pod), config: parsed.config };
}
