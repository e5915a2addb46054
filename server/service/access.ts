/** Tokens: creation (the secret is shown once), listing, revocation, and the bootstrap admin. */
import { alreadyExists, echo, echoList, invalid, notFound, denied } from '../domain/errors.js';
import { validateName, validateText } from '../domain/validation.js';
import type { Authenticator } from '../security/authenticator.js';
import type { Principal } from '../security/principal.js';
import type { RoleRegistry } from '../security/role-registry.js';
import type { StreamGuard } from '../security/stream-guard.js';
import type { Role } from '../security/roles.js';
import type { AuditEvent, AuditFilter } from '../store/store.js';
import { deadToken } from '../security/stream-guard.js';
import { parseServiceAccount } from './service-accounts.js';
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

  /**
   * Binds a Kubernetes service account to a workload: a binding is a workload token without a
   * secret (see TokenRecord.k8sServiceAccount), tied to this incarnation of the workload. A
   * service account is bound to at most one workload; a binding whose workload was deleted
   * (or deleted and re-created) is dead and is revoked here instead of blocking. Needs project
   * and token administration: a binding grants what a workload token does.
   */
  async bindServiceAccount(p: Principal, req: { project: string; workload: string; serviceAccount: string; allowBuild: boolean }): Promise<TokenRecord> {
    validateName('project', req.project);
    validateName('workload', req.workload);
    p.requireProjectAdmin(req.project);
    p.requireTokenAdmin();
    const { account } = parseServiceAccount(req.serviceAccount);
    const w = await this.d.store.getRecord('workload', req.project, req.workload);
    if (!w) throw notFound(`workload ${req.project}/${req.workload}`);
    const now = this.d.now();
    for (const b of await this.d.store.getTokensByServiceAccount(account)) {
      if (deadToken(b, now)) continue;
      const bw = b.workload!;
      const current = await this.d.store.getRecord('workload', bw.project, bw.workload);
      if (current && (current.uid ?? '') === (bw.uid ?? '')) {
        const same = bw.project === req.project && bw.workload === req.workload;
        throw alreadyExists(
          same
            ? `Kubernetes service account ${account} is already bound to ${bw.project}/${bw.workload}${b.scopes.includes('build') ? ' (with build)' : ''}; unbind it first to change the binding`
            : `Kubernetes service account ${account} is already bound to workload ${bw.project}/${bw.workload} (a service account is bound to one workload); unbind it there first`,
        );
      }
      // Its workload is gone: the binding is dead, and removed so that it can never be ambiguous.
      await this.removeBinding(p, b, 'its workload was deleted');
    }
    const binding: TokenRecord = {
      id: newTokenId(),
      hash: '',
      name: `k8s:${account}`,
      role: 'workload',
      projects: [req.project],
      workload: { project: req.project, workload: req.workload, ...(w.uid ? { uid: w.uid } : {}) },
      scopes: req.allowBuild ? ['runtime', 'build'] : ['runtime'],
      createdAt: now,
      expiresAt: 0,
      revoked: false,
      createdBy: p.actor,
      k8sServiceAccount: account,
    };
    // Not a SHA-256 (no ':' in hex): no presented bearer token ever matches it.
    binding.hash = `k8s-binding:${binding.id}`;
    const event = {
      actor: p.actor,
      action: 'BindServiceAccount',
      project: req.project,
      target: `workload ${req.project}/${req.workload}: service account ${account}${req.allowBuild ? ' (runtime, build)' : ' (runtime)'} as binding ${binding.id}`,
      keys: [],
    };
    await auditedWrite(this.d.audit, event, this.d.now, () => this.d.store.createToken(binding));
    this.auth.invalidate();
    return binding;
  }

  /** Ends a service account's binding to this workload: its calls and open streams are refused from then on. */
  async unbindServiceAccount(p: Principal, req: { project: string; workload: string; serviceAccount: string }): Promise<void> {
    validateName('project', req.project);
    validateName('workload', req.workload);
    p.requireProjectAdmin(req.project);
    p.requireTokenAdmin();
    const { account } = parseServiceAccount(req.serviceAccount);
    const live = (await this.d.store.getTokensByServiceAccount(account)).filter(
      (b) => !b.revoked && b.workload?.project === req.project && b.workload.workload === req.workload,
    );
    if (live.length === 0) throw notFound(`binding of Kubernetes service account ${account} to workload ${req.project}/${req.workload}`);
    for (const b of live) await this.removeBinding(p, b);
  }

  private async removeBinding(p: Principal, b: TokenRecord, why?: string): Promise<void> {
    const w = b.workload!;
    const event = {
      actor: p.actor,
      action: 'UnbindServiceAccount',
      project: w.project,
      target: `workload ${w.project}/${w.workload}: service account ${b.k8sServiceAccount} (binding ${b.id})`,
      keys: [],
      ...(why ? { detail: why } : {}),
    };
    await auditedWrite(this.d.audit, event, this.d.now, () => this.d.store.revokeToken(b.id));
    this.auth.invalidate();
    // Before the call answers: nothing reaches the service account's streams once the caller is told.
    this.guard.revoked(b.id);
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

  /**
   * Administrators read the audit log; a project-bound one only for its projects. A page is
   * newest first; `cursor` (from the previous page's nextCursor) continues below its last event.
   */
  async audit(p: Principal, filter: AuditFilter, cursor = ''): Promise<{ events: AuditEvent[]; nextCursor: string }> {
    if (!p.role.tokenAdmin && !p.role.projectAdmin) throw denied(`role ${p.role.name} may not read the audit log`);
    if (filter.project) validateName('project', filter.project);
    if (p.token.projects.length) {
      if (!filter.project) throw denied('this token is bound to projects: give the project to read its audit events');
      p.requireProject(filter.project);
    }
    const limit = filter.limit && filter.limit > 0 ? Math.min(filter.limit, 1000) : 100;
    const before = cursor ? parseAuditCursor(cursor) : filter.before;
    const events = await this.d.store.listAudit({ ...filter, ...(before ? { before } : {}), limit });
    const last = events.length === limit ? events[events.length - 1] : undefined;
    return { events, nextCursor: last?.id ? auditCursor(last.time, last.id) : '' };
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

/** A page's end: "<time ms>-<store id>" (ids are decimal in SQLite, hexadecimal in MongoDB). */
export const auditCursor = (time: number, id: string) => `${time}-${id}`;

function parseAuditCursor(cursor: string): { time: number; id: string } {
  const m = /^(\d{1,15})-([0-9a-f]{1,24})$/.exec(cursor);
  if (!m) throw invalid('malformed audit cursor: pass next_cursor of a previous answer');
  return { time: Number(m[1]), id: m[2]! };
}
