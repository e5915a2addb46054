/**
 * Built-in roles plus custom ones, kept in the store's meta ("roles") so that every replica
 * sees them; read through a short cache like tokens.
 */
import { alreadyExists, invalid, notFound, precondition } from '../domain/errors.js';
import { validateName } from '../domain/validation.js';
import type { TokenStore } from './tokens.js';
import { BUILTIN_ROLES, builtinRole, type AccessLevel, type Role } from './roles.js';

const META_KEY = 'roles';
const LEVELS: readonly AccessLevel[] = ['none', 'keys', 'read', 'write'];

export class RoleRegistry {
  private cached: { roles: Role[]; raw: string; until: number } | undefined;

  constructor(
    private readonly store: Pick<TokenStore, 'listTokens' | 'getMeta' | 'setMeta'>,
    private readonly ttlMs = 500,
    private readonly now: () => number = Date.now,
  ) {}

  async get(name: string): Promise<Role | undefined> {
    return builtinRole(name) ?? (await this.custom()).find((r) => r.name === name);
  }

  /**
   * Re-reads the custom roles now; returns their stored form, which changes whenever a role
   * does (the stream guard re-checks live streams then).
   */
  async refresh(): Promise<string> {
    await this.custom(true);
    return this.cached!.raw;
  }

  async list(): Promise<Role[]> {
    return [...BUILTIN_ROLES, ...(await this.custom())];
  }

  async create(role: Omit<Role, 'builtin'>): Promise<Role> {
    validateName('role name', role.name);
    if (builtinRole(role.name)) throw alreadyExists(`built-in role ${role.name}`);
    checkRole(role);
    const custom = await this.custom(true);
    if (custom.some((r) => r.name === role.name)) throw alreadyExists(`role ${role.name}`);
    const created: Role = { ...role, builtin: false };
    await this.save([...custom, created]);
    return created;
  }

  /**
   * Replaces a custom role as a whole. The tokens that use it get the new rights with their
   * next lookup; open streams are re-checked by the stream guard (the stored form changed).
   */
  async update(role: Omit<Role, 'builtin'>): Promise<Role> {
    validateName('role name', role.name);
    if (builtinRole(role.name)) throw invalid(`built-in role ${role.name} cannot be changed`);
    checkRole(role);
    const custom = await this.custom(true);
    if (!custom.some((r) => r.name === role.name)) throw notFound(`role ${role.name}`);
    const updated: Role = { ...role, builtin: false };
    await this.save(custom.map((r) => (r.name === role.name ? updated : r)));
    return updated;
  }

  /** Refused while a token uses the role, so no token silently loses its rights. */
  async delete(name: string): Promise<void> {
    validateName('role name', name);
    if (builtinRole(name)) throw invalid(`built-in role ${name} cannot be deleted`);
    const custom = await this.custom(true);
    if (!custom.some((r) => r.name === name)) throw notFound(`role ${name}`);
    const users = (await this.store.listTokens()).filter((t) => t.role === name && !t.revoked);
    if (users.length) throw precondition(`role ${name} is used by ${users.length} active token(s); revoke them first`);
    await this.save(custom.filter((r) => r.name !== name));
  }

  private async custom(fresh = false): Promise<Role[]> {
    const now = this.now();
    if (!fresh && this.cached && this.cached.until > now) return this.cached.roles;
    const raw = (await this.store.getMeta(META_KEY)) ?? '';
    const roles = raw ? (JSON.parse(raw) as Role[]) : [];
    this.cached = { roles, raw, until: now + this.ttlMs };
    return roles;
  }

  private async save(roles: Role[]): Promise<void> {
    const raw = JSON.stringify(roles);
    await this.store.setMeta(META_KEY, raw);
    this.cached = { roles, raw, until: this.now() + this.ttlMs };
  }
}

function checkRole(role: Omit<Role, 'builtin'>): void {
  for (const type of ['secret', 'config'] as const) {
    if (!LEVELS.includes(role.access[type])) throw invalid(`role access for ${type} groups must be one of ${LEVELS.join(', ')}`);
  }
  if (role.description.length > 256) throw invalid('role description is longer than 256 characters');
}
