/**
 * The one call the server makes to the Kubernetes API server: create a TokenReview. Plain
 * node:https, TLS verified against the cluster CA; the server's own credential is read from its
 * token file on every review, so a rotated projected token is picked up without a restart.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import type { TokenReview, TokenReviewStatus } from 'kubernetes-types/authentication/v1.js';
import { clean, KubeApiError } from './review-errors.js';

/** Where the API server is and how the server authenticates to it. */
export interface KubeApiConfig {
  /** https://HOST:PORT of the API server. */
  url: string;
  /** PEM bundle the API server's certificate must chain to; Node's default CAs without it. */
  caFile?: string;
  /** The server's own bearer credential (a service-account token or another token). */
  tokenFile: string;
  /** Audience a reviewed token must be for (default secret-groups). */
  audience: string;
  /** A review that has not answered after this long fails (default 5 s). */
  timeoutMs?: number;
}

export const DEFAULT_REVIEW_TIMEOUT_MS = 5_000;
/** An answer larger than this is not a TokenReview. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class TokenReviewClient {
  private agent: { ca: string; agent: Agent } | undefined;
  private readonly endpoint: URL;

  constructor(private readonly cfg: KubeApiConfig) {
    const base = new URL(cfg.url);
    if (base.protocol !== 'https:') throw new Error(`--k8s-api must be an https:// URL, got ${base.protocol}//…`);
    this.endpoint = new URL(`${base.pathname.replace(/\/+$/, '')}/apis/authentication.k8s.io/v1/tokenreviews`, base);
  }

  get audience(): string {
    return this.cfg.audience;
  }

  /** The review's status, as the API server gave it. KubeApiError when there is none. */
  async review(token: string): Promise<TokenReviewStatus> {
    const [credential, agent] = await Promise.all([this.credential(), this.tlsAgent()]);
    const body: TokenReview = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.cfg.audience] } };
    const payload = Buffer.from(JSON.stringify(body));
    const timeoutMs = this.cfg.timeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        this.endpoint,
        {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json', accept: 'application/json', 'content-length': payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) req.destroy(new KubeApiError('the API server answered more than 1 MiB'));
            else chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      const timer = setTimeout(() => req.destroy(new KubeApiError(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', reject);
      req.end(payload);
    }).catch((e: unknown) => {
      if (e instanceof KubeApiError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new KubeApiError(`cannot reach ${this.endpoint.host}: ${code ?? clean((e as Error).message ?? String(e))}`);
    });
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      throw new KubeApiError(`the API server answered HTTP ${status} without JSON`, status);
    }
    if (status !== 200 && status !== 201) {
      const message = typeof (answer as { message?: unknown }).message === 'string' ? clean((answer as { message: string }).message) : '';
      const hint = status === 403 ? ' (the server\'s credential needs RBAC permission to create tokenreviews.authentication.k8s.io)' : status === 401 ? ' (the server\'s own credential, --k8s-token-file, was refused)' : '';
      throw new KubeApiError(`the API server answered HTTP ${status}${message ? `: ${message}` : ''}${hint}`, status);
    }
    const review = answer as TokenReview;
    if (!review || typeof review !== 'object' || !review.status || typeof review.status !== 'object') {
      throw new KubeApiError('the API server answered without a TokenReview status', status);
    }
    return review.status;
  }

  private async credential(): Promise<string> {
    let text: string;
    try {
      text = await readFile(this.cfg.tokenFile, 'utf8');
    } catch (e) {
      throw new KubeApiError(`cannot read --k8s-token-file ${this.cfg.tokenFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const token = text.trim();
    if (!token || /\s/.test(token)) throw new KubeApiError(`--k8s-token-file ${this.cfg.tokenFile} does not hold one token`);
    return token;
  }

  /** A keep-alive agent per CA bundle: re-read each time, so a rotated cluster CA is picked up. */
  private async tlsAgent(): Promise<Agent> {
    let ca = '';
    if (this.cfg.caFile) {
      try {
        ca = await readFile(this.cfg.caFile, 'utf8');
      } catch (e) {
        throw new KubeApiError(`cannot read --k8s-ca ${this.cfg.caFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    if (this.agent?.ca !== ca) {
      this.agent?.agent.destroy();
      this.agent = { ca, agent: new Agent({ keepAlive: true, maxSockets: 16, ...(ca ? { ca } : {}) }) };
    }
    return this.agent.agent;
  }

  close(): void {
    this.agent?.agent.destroy();
    this.agent = undefined;
  }
}
