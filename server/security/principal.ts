/** Who is calling, and what they may do: the checks every service method runs. */
import { DomainError, denied } from '../domain/errors.js';
import type { GroupType, ResolveScope, Workload } from '../domain/types.js';
import type { TokenRecord } from './tokens.js';
import { atLeast, type AccessLevel, type Role } from './roles.js';

/**
 * A caller that presented a Kubernetes service-account token instead of an sg token. Its
 * TokenRecord is the service account's binding; the credential is kept (in memory only) so that
 * open Watch streams can have it reviewed again.
 */
export interface K8sIdentity {
  /** "NAMESPACE/NAME". */
  account: string;
  /** The presented token: never logged, never stored. */
  credential: string;
  /** A short hash of the credential: tells one pod's token from another's. */
  key: string;
  /** The token's own expiry (ms; 0: none), capping the principal's. */
  expiresAt: number;
}

export class Principal {
  readonly token: TokenRecord;

  constructor(
    token: TokenRecord,
    readonly role: Role,
    readonly k8s?: K8sIdentity,
    /** The access the caller has when it did not ask for keys only (see keys-only.ts). */
    private readonly fullAccess: Role['access'] = role.access,
  ) {
    // A service account's principal ends with its token, whatever its binding says.
    const cap = k8s?.expiresAt ?? 0;
    this.token = cap && (!token.expiresAt || cap < token.expiresAt) ? { ...token, expiresAt: cap } : token;
  }

  /** The same caller with its record (and role) as read again from the store. */
  withToken(token: TokenRecord, role: Role): Principal {
    return new Principal(token, role, this.k8s);
  }

  /** Name recorded as actor in history and audit. */
  get actor(): string {
    const w = this.token.workload;
    if (w && this.k8s) return `workload:${w.project}/${w.workload}(k8s:${this.k8s.account})`;
    return w ? `workload:${w.project}/${w.workload}` : `token:${this.token.id}${this.token.name ? `(${this.token.name})` : ''}`;
  }

  level(type: GroupType): AccessLevel {
    return this.role.access[type];
  }

  canSeeProject(project: string): boolean {
    return this.token.projects.length === 0 || this.token.projects.includes(project);
  }

  requireProject(project: string): void {
    if (!this.canSeeProject(project)) throw denied(`this token may not access project ${project}`);
  }

  requireProjectAdmin(project?: string): void {
    if (project !== undefined) this.requireProject(project);
    if (!this.role.projectAdmin) throw denied(`role ${this.role.name} may not administer projects, workloads or addons`);
  }

  requireTokenAdmin(): void {
    if (!this.role.tokenAdmin) throw denied(`role ${this.role.name} may not administer tokens`);
  }

  /** May see at least the keys of groups of this type. */
  requireGroupAccess(project: string, type: GroupType, wanted: AccessLevel): void {
    this.requireProject(project);
    if (!atLeast(this.level(type), wanted)) {
      throw denied(`role ${this.role.name} has ${this.level(type)} access to ${type} groups; ${wanted} is needed`);
    }
  }

  /** May write secret groups of this project (and so everything that counts as secret). */
  canWriteSecrets(project: string): boolean {
    return this.canSeeProject(project) && atLeast(this.level('secret'), 'write');
  }

  /**
   * Execution-controlling keys, files and addon links count as secret whatever the group's
   * type: changing them needs write on secret groups. `what` names them (never a value).
   */
  requireSecretWrite(project: string, what: readonly string[]): void {
    this.requireProject(project);
    if (atLeast(this.level('secret'), 'write')) return;
    const shown = what.slice(0, 5).map((w) => (w.length > 64 ? `${w.slice(0, 64)}…` : w));
    const more = what.length > shown.length ? ` and ${what.length - shown.length} more` : '';
    throw denied(
      `role ${this.role.name} has ${this.level('secret')} access to secret groups; changing ${shown.join(', ')}${more} needs write on secret groups (execution-controlling keys, files and addon links count as secret in groups of either type)`,
    );
  }

  /** Values of this type are visible (otherwise keys only). */
  seesValues(type: GroupType): boolean {
    return atLeast(this.level(type), 'read');
  }

  /**
   * The caller may read values of this type, even when this call asked for keys only: figures
   * of those values (a file's size) are no secret to it.
   */
  mayReadValues(type: GroupType): boolean {
    return atLeast(this.fullAccess[type], 'read');
  }

  /** Resolve/Watch/Explain of one workload identity for one scope. */
  requireResolve(project: string, workload: string, scope: ResolveScope): void {
    const bound = this.token.workload;
    if (bound) {
      if (bound.project !== project || bound.workload !== workload) {
        throw denied(`this workload token may only resolve ${bound.project}/${bound.workload}`);
      }
      if (!this.token.scopes.includes(scope)) {
        throw denied(`this workload token may not resolve the ${scope} scope (create it with --build)`);
      }
      return;
    }
    this.requireProject(project);
    const readsAll = atLeast(this.level('secret'), 'read') && atLeast(this.level('config'), 'read');
    if (!this.role.resolve && !readsAll) throw denied(`role ${this.role.name} may not resolve workloads`);
  }

  /**
   * A workload token is bound to one incarnation of its workload: once the workload is deleted,
   * or deleted and re-created under the same name (another uid), the token is dead. `current`
   * is the workload of that name as it is now (undefined: none). Other tokens pass.
   */
  requireWorkloadIdentity(current: Workload | undefined): void {
    const bound = this.token.workload;
    if (!bound) return;
    if (!current) throw new DomainError('UNAUTHENTICATED', `the workload of this token (${bound.project}/${bound.workload}) was deleted`);
    // Both absent: a token and a workload from before workloads had a uid.
    if ((bound.uid ?? '') !== (current.uid ?? '')) {
      throw new DomainError('UNAUTHENTICATED', `the workload of this token (${bound.project}/${bound.workload}) was deleted and re-created; create a new token for it`);
    }
  }

  /**
   * Workload and addon records (names, tags, keys): for roles that see groups at all. Workload
   * tokens and roles without group access (resolver) see only resolutions.
   */
  requireRecordRead(project: string): void {
    this.requireProject(project);
    if (this.token.workload) throw denied('a workload token may only resolve its own identity');
    if (this.level('secret') === 'none' && this.level('config') === 'none') {
      throw denied(`role ${this.role.name} may not read workloads or addons`);
    }
  }

  /** May resolve the identity, so also see its etag (a hash of its values). */
  mayResolve(project: string, workload: string, scope: ResolveScope): boolean {
    try {
      this.requireResolve(project, workload, scope);
      return true;
    } catch {
      return false;
    }
  }

  /** Explain returns keys and sources only. */
  requireExplain(project: string, workload: string, scope: ResolveScope): void {
    if (this.token.workload || this.role.resolve) return this.requireResolve(project, workload, scope);
    this.requireProject(project);
    if (this.level('secret') === 'none' && this.level('config') === 'none') {
      throw denied(`role ${this.role.name} may not explain resolutions`);
    }
  }
}
