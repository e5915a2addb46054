/** How a group's addon links turn into variables. */
import { invalid, notFound, precondition } from './errors.js';
import { validateKey } from './validation.js';
import type { Addon, AddonLink, SecretGroup, Vars } from './types.js';

/** `<ADDON>_<KEY>`, upper-cased, other characters to '_'; a leading digit gets a '_' prefix. */
export function defaultAlias(addon: string, key: string): string {
  const alias = `${addon}_${key}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  return /^[0-9]/.test(alias) ? `_${alias}` : alias;
}

/** The (key, alias) pairs a link brings: its own list, or every addon key by default alias. */
export function linkedKeys(link: AddonLink, addon: Addon | undefined): { key: string; alias: string }[] {
  if (link.keys.length > 0) return link.keys;
  if (!addon) return [];
  return Object.keys(addon.connectionDetails)
    .sort()
    .map((key) => ({ key, alias: defaultAlias(addon.name, key) }));
}

/** alias -> value, and alias -> addon name, for every link of a group. */
export function addonValues(
  links: readonly AddonLink[],
  addons: ReadonlyMap<string, Addon>,
): { values: Vars; origin: Map<string, string> } {
  const values: Vars = {};
  const origin = new Map<string, string>();
  for (const link of links) {
    const addon = addons.get(link.addon);
    if (!addon) continue;
    for (const { key, alias } of linkedKeys(link, addon)) {
      if (Object.hasOwn(addon.connectionDetails, key)) {
        values[alias] = addon.connectionDetails[key]!;
        origin.set(alias, addon.name);
      }
    }
  }
  return { values, origin };
}

/**
 * Checks a group's links against the project's addons: each addon exists, each named key
 * exists, aliases are valid keys and collide neither with each other nor with a variable.
 */
export function checkAddonLinks(links: readonly AddonLink[], variables: Vars, addons: ReadonlyMap<string, Addon>): void {
  const seenAddons = new Set<string>();
  const aliasOwner = new Map<string, string>();
  for (const link of links) {
    if (seenAddons.has(link.addon)) throw invalid(`addon ${link.addon} is linked twice`);
    seenAddons.add(link.addon);
    const addon = addons.get(link.addon);
    if (!addon) throw notFound(`addon ${link.addon} in this project`);
    for (const { key, alias } of linkedKeys(link, addon)) {
      if (!Object.hasOwn(addon.connectionDetails, key)) {
        throw invalid(`addon ${link.addon} has no key ${key}`);
      }
      validateKey(`alias for ${link.addon}.${key}`, alias);
      if (Object.hasOwn(variables, alias)) {
        throw invalid(`alias ${alias} (addon ${link.addon}) collides with a variable of the same name`);
      }
      const other = aliasOwner.get(alias);
      if (other) throw invalid(`alias ${alias} is used by both addon ${other} and addon ${link.addon}`);
      aliasOwner.set(alias, link.addon);
    }
  }
}

/**
 * Addon details are secret values, so only a secret group may link an addon. A config group
 * that linked one before this rule keeps resolving, but any change that leaves it a config
 * group with links is refused until it is fixed (type secret, or links removed).
 */
export function checkLinkType(group: SecretGroup): SecretGroup {
  if (group.type === 'config' && group.addonLinks.length > 0) {
    throw precondition(
      `group ${group.name} is a config group and links addon ${group.addonLinks.map((l) => l.addon).join(', ')}: addon connection details are secret values, so only a secret group may link an addon (change the group's type to secret, or unlink the addon)`,
    );
  }
  return group;
}
