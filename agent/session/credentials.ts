/**
 * The token the agent's calls carry, and where a new one comes from: a Kubernetes
 * service-account token file is re-read on every call (the kubelet rotates it), a --token-file
 * before each retry after the server refused the token (a rotated secret). Never logged.
 */
import { readFileSync } from 'node:fs';
import { CliError, EXIT } from '../../client/exit-codes.js';
import type { AgentLog } from '../log.js';

export function readTokenFile(file: string, flag = '--token-file'): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new CliError(`cannot read ${flag} ${file} (${(e as NodeJS.ErrnoException).code})`, EXIT.server);
  }
}

export interface TokenFiles {
  /** Where the token came from (re-read when the server stops accepting the token). */
  tokenFile?: string;
  /** A Kubernetes service-account token file: re-read on every call. */
  k8sTokenFile?: string;
}

type Log = Pick<AgentLog, 'debug' | 'info' | 'warn'>;

export class Credentials {
  /** The token the last call carried (Kubernetes token file). */
  private sent: string | undefined;
  private k8sFileWarned = false;
  private readonly listeners: ((token: string) => void)[] = [];

  constructor(
    private current: string,
    private readonly files: TokenFiles,
    private readonly log: Log,
  ) {}

  /** The token in use now. */
  get token(): string {
    return this.current;
  }

  /** Told of every new token (the cached copy is sealed with the token, so it starts a new one). */
  onChange(fn: (token: string) => void): void {
    this.listeners.push(fn);
  }

  /** The token for the next call: the transport asks on every call. */
  forCall(): string {
    if (this.files.k8sTokenFile) this.sent = this.k8sToken();
    return this.current;
  }

  /** Whether the Kubernetes token file now holds another token than the last call carried. */
  rotated(): boolean {
    if (!this.files.k8sTokenFile || this.sent === undefined) return false;
    return this.k8sToken() !== this.sent;
  }

  /** Before a retry with a refused token: a --token-file that now holds another token is used from the next call on. */
  reload(): void {
    const file = this.files.tokenFile;
    // A Kubernetes token file is read on every call already.
    if (!file) return;
    let token: string;
    try {
      token = readTokenFile(file);
    } catch (e) {
      this.log.warn('cannot re-read the token file', { error: (e as Error).message });
      return;
    }
    if (!token || token === this.current) return;
    this.log.info('the token file holds a new token; using it');
    this.change(token);
  }

  /**
   * The Kubernetes token file's token now (read on every call: it is small, and calls are few);
   * the last one read when the file cannot be read. A new token is used from then on.
   */
  private k8sToken(): string {
    let token: string;
    try {
      token = readTokenFile(this.files.k8sTokenFile!, '--k8s-token-file');
      this.k8sFileWarned = false;
    } catch (e) {
      if (!this.k8sFileWarned) this.log.warn('cannot re-read the Kubernetes token file; using the last token read', { error: (e as Error).message });
      this.k8sFileWarned = true;
      return this.current;
    }
    if (!token || token === this.current) return this.current;
    this.log.debug('the Kubernetes token file holds a new token (rotated); using it');
    this.change(token);
    return token;
  }

  private change(token: string): void {
    this.current = token;
    for (const fn of this.listeners) fn(token);
  }
}
