/** Errors of Kubernetes token reviews; kept apart so that the call path loads no https client. */
import { DomainError } from '../../domain/errors.js';

/** The API server could not be asked, or did not answer with a review. Never holds a token. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Printable and short: the API server's messages go into logs and refusals. */
export function clean(text: string, max = 160): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** A review that could not be had: UNAVAILABLE, and audited, but not a failed authentication. */
export class ReviewUnavailable extends DomainError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}

