/** Tokens: creation (the secret is shown once), listing, revocation, and the bootstrap admin. */
import { echo, echoList, invalid, notFound, denied } from '../domain/errors.js';
import { validateName, validateText } from '../domain/validation.js';
import type { Authenticator } from '../security/authenticator.js';
import type { Principal } from '../security/principal.js';
import type { RoleRegistry } from '../security/role-registry.js';
import type { StreamGuard } from '../security/stream-guard.js';
import type { Role } from '../security/roles.js';
import type { AuditEvent, AuditFilter } from '../store/store.js';
import { hashToken, newTokenId, newTokenSecret } from '../security/tokens.js';
import type { TokenRecord } from '../store/store.js';
import { auditedWrite } from './audit.js';
import type { Deps } from './deps.js';

export interface NewToken {
  name: string;
  role: string;
  projects: string[];
  workload: { project: string; workload: string } | null;
  allowBuild: boolean;
  ttlSeconds: number;
}

export class AccessService {
  constructor(
    private readonly d: Deps,
    private readonly auth: Authenticator,
    private readonly roleRegistry: RoleRegistry,
    private readonly guard: Pick<StreamGuard, 'revoked' | 'fresh'>,
  ) {}

  /** True while no token exists: the next bootstrap() creates the admin token. */
  async needsBootstrap(): Promise<boolean> {
    return (await this.d.store.listTokens()).length === 0;
  }

  /** Creates the first admin token when the store holds none; returns its secret then. */
  async bootstrap(): Promise<string | undefined> {
    if ((await this.d.store.listTokens()).length > 0) return undefined;
    const { secret } = await this.insert({ name: 'bootstrap-admin', role: 'admin', projects: [], workload: null, allowBuild: false, ttlSeconds: 0 }, 'bootstrap');
    return secret;
  }

  async create(p: Principal, req: NewToken): Promise<{ secret: string; token: TokenRecord }> {
    p.requireTokenAdmin();
    if (req.ttlSeconds < 0 || !Number.isInteger(req.ttlSeconds)) throw invalid('ttl_seconds must be a non-negative integer');
    if (req.name.length > 128) throw invalid('token name is longer than 128 characters');
    validateText('token name', req.name);
    let spec = req;
    if (req.workload) {
      validateName('workload.project', req.workload.project);
      validateName('workload.workload', req.workload.workload);
      p.requireProject(req.workload.project);
      const w = await this.d.store.getRecord('workload', req.workload.project, req.workload.workload);
      if (!w) throw notFound(`workload ${req.workload.project}/${req.workload.workload}`);
      // Bound to this incarnation of the workload: deleting and re-creating it kills the token.
      const workload = { project: req.workload.project, workload: req.workload.workload, ...(w.uid ? { uid: w.uid } : {}) };
      spec = { ...req, workload, role: 'workload', projects: [req.workload.project] };
    } else {
      if (!(await this.roleRegistry.get(req.role))) throw invalid(`unknown role ${echo(req.role)}; see ListRoles`);
      if (req.role === 'workload') throw invalid('a workload token is created with a workload identity (--workload PROJECT/NAME)');
      for (const project of req.projects) validateName('projects', project);
      // A token administrator bound to some projects cannot mint access beyond them.
      if (p.token.projects.length) {
        const outside = req.projects.length ? req.projects.filter((x) => !p.canSeeProject(x)) : ['(every project)'];
        if (outside.length) throw denied(`this token may not grant access to ${echoList(outside)}`);
      }
    }
    return this.insert(spec, p.actor);
  }

  async list(p: Principal): Promise<TokenRecord[]> {
    p.requireTokenAdmin();
    const all = await this.d.store.listTokens();
    if (!p.token.projects.length) return all;
    return all.filter((t) => t.projects.length && t.projects.every((x) => p.canSeeProject(x)));
  }

  async revoke(p: Principal, id: string): Promise<void> {
    p.requireTokenAdmin();
    if (!/^[0-9a-f]{1,64}$/.test(id)) throw invalid('token id must be hexadecimal');
    const visible = (await this.list(p)).some((t) => t.id === id);
    if (!visible) throw notFound(`token ${id}`);
    const event = { actor: p.actor, action: 'RevokeToken', project: '', target: `token ${id}`, keys: [] };
    await auditedWrite(this.d.audit, event, this.d.now, () => this.d.store.revokeToken(id));
    this.auth.invalidate();
    // Before RevokeToken answers: nothing reaches the token's streams once the caller is told.
    this.guard.revoked(id);
  }

  roles(): Promise<Role[]> {
    return this.roleRegistry.list();
  }

  async createRole(p: Principal, role: Omit<Role, 'builtin'>): Promise<Role> {
    p.requireTokenAdmin();
    if (p.token.projects.length) throw denied('only a token administrator of every project may define roles');
    const event = { actor: p.actor, action: 'CreateRole', project: '', target: `role ${role.name}`, keys: [] };
    return auditedWrite(this.d.audit, event, this.d.now, () => this.roleRegistry.create(role));
  }

  /**
   * Audited like any role change. Before answering, this replica forgets its cached token
   * lookups and re-checks its open streams against the new rights; other replicas do within
   * their token cache lifetime and stream check period.
   */
  async updateRole(p: Principal, role: Omit<Role, 'builtin'>): Promise<Role> {
    p.requireTokenAdmin();
    if (p.token.projects.length) throw denied('only a token administrator of every project may change roles');
    const event = { actor: p.actor, action: 'UpdateRole', project: '', target: `role ${role.name}`, keys: [] };
    const updated = await auditedWrite(this.d.audit, event, this.d.now, () => this.roleRegistry.update(role));
    this.auth.invalidate();
    await this.guard.fresh();
    return updated;
  }

  async deleteRole(p: Principal, name: string): Promise<void> {
    p.requireTokenAdmin();
    if (p.token.projects.length) throw denied('only a token administrator of every project may delete roles');
    const event = { actor: p.actor, action: 'DeleteRole', project: '', target: `role ${name}`, keys: [] };
    await auditedWrite(this.d.audit, event, this.d.now, () => this.roleRegistry.delete(name));
  }

  /** Administrators read the audit log; a project-bound one only for its projects. */
  async audit(p: Principal, filter: AuditFilter): Promise<AuditEvent[]> {
    if (!p.role.tokenAdmin && !p.role.projectAdmin) throw denied(`role ${p.role.name} may not read the audit log`);
    if (filter.project) validateName('project', filter.project);
    if (p.token.projects.length) {
      if (!filter.project) throw denied('this token is bound to projects: give the project to read its audit events');
      p.requireProject(filter.project);
    }
    const limit = filter.limit && filter.limit > 0 ? Math.min(filter.limit, 1000) : 100;
    return this.d.store.listAudit({ ...filter, limit });
  }

  private async insert(req: NewToken, createdBy: string): Promise<{ secret: string; token: TokenRecord }> {
    const secret = newTokenSecret();
    const now = this.d.now();
    const token: TokenRecord = {
      id: newTokenId(),
      hash: hashToken(secret),
      name: req.name,
      role: req.role,
      projects: [...new Set(req.projects)].sort(),
      workload: req.workload,
      scopes: req.workload ? (req.allowBuild ? ['runtime', 'build'] : ['runtime']) : [],
      createdAt: now,
      expiresAt: req.ttlSeconds ? now + req.ttlSeconds * 1000 : 0,
      revoked: false,
      createdBy,
    };
    const event = { actor: createdBy, action: 'CreateToken', project: token.projects.join(','), target: `token ${token.id} (role ${token.role})`, keys: [] };
    await auditedWrite(this.d.audit, event, this.d.now, () => this.d.store.createToken(token));
    return { secret, token };
  }
}
