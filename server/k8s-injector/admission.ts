/**
 * AdmissionReview (admission.k8s.io/v1), the webhook's wire format. kubernetes-types has no
 * admission.k8s.io group (it is not a served resource), so the envelope is declared here with
 * the fields the injector reads and writes; the objects inside use kubernetes-types.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Status } from 'kubernetes-types/meta/v1.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  namespace?: string;
  name?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  object?: Pod | Record<string, unknown> | null;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Status;
  /** base64 of the JSON Patch document */
  patch?: string;
  patchType?: 'JSONPatch';
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/**
 * The request of a review as sent by the API server, or a sentence saying what is wrong with
 * it (for a 400 answer).
 */
export function readReview(body: unknown): AdmissionRequest | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body is not a JSON object';
  const r = body as Partial<AdmissionReview>;
  if (r.apiVersion !== ADMISSION_API_VERSION || r.kind !== 'AdmissionReview') {
    return `expected an AdmissionReview of ${ADMISSION_API_VERSION} (configure admissionReviewVersions: [v1])`;
  }
  const req = r.request;
  if (!req || typeof req !== 'object') return 'the AdmissionReview has no request';
  if (typeof req.uid !== 'string' || !req.uid) return 'the AdmissionReview request has no uid';
  if (!req.kind || typeof req.kind !== 'object' || typeof req.operation !== 'string') return 'the AdmissionReview request has no kind or operation';
  return req;
}

/** The review to send back: the request's uid echoed, with the decision. */
export function reviewResponse(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}
