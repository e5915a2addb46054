/** What the signed-in role may do with a group, from its Role (the server enforces it anyway). */
import { AccessLevel, GroupType, type SecretGroup } from './gen.js';
import type { Me } from './session.js';

export function levelFor(me: Me, type: GroupType): AccessLevel {
  const r = me.role;
  if (!r) return AccessLevel.ACCESS_LEVEL_NONE;
  return type === GroupType.GROUP_TYPE_SECRET ? r.secret : r.config;
}

/** Addon details and workloads' own values count as secret values. */
export const canReadSecrets = (me: Me) => (me.role?.secret ?? AccessLevel.ACCESS_LEVEL_NONE) >= AccessLevel.ACCESS_LEVEL_READ;
export const canRead = (me: Me, g: Pick<SecretGroup, 'type'>) => levelFor(me, g.type) >= AccessLevel.ACCESS_LEVEL_READ;
export const canWrite = (me: Me, g: Pick<SecretGroup, 'type'>) => levelFor(me, g.type) === AccessLevel.ACCESS_LEVEL_WRITE;
