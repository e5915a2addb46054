/** Addon links: default aliases, which (key, alias) pairs a link brings, and the save-time checks. */
import { describe, expect, it } from 'vitest';
import { addonValues, checkAddonLinks, defaultAlias, linkedKeys } from '../../server/domain/addon-links.js';
import { DomainError } from '../../server/domain/errors.js';
import { validateKey } from '../../server/domain/validation.js';
import type { AddonLink } from '../../server/domain/types.js';
import { addon } from '../helpers/fixtures.js';

const addons = new Map([
  ['pg', addon('pg', { connectionDetails: { url: 'postgres://x', password: 'pw' } })],
  ['main-db', addon('main-db', { connectionDetails: { url: 'm' } })],
]);

describe('defaultAlias: <ADDON>_<KEY>, upper-cased, other characters to _', () => {
  it.each([
    ['pg', 'url', 'PG_URL'],
    ['main-db', 'password', 'MAIN_DB_PASSWORD'],
    ['redis', 'tls.ca-cert', 'REDIS_TLS_CA_CERT'],
    ['cache', 'Host_Name', 'CACHE_HOST_NAME'],
    ['0db', 'url', '_0DB_URL'],
    ['db', 'ключ', 'DB_____'],
  ])('%s + %s -> %s, a valid key', (name, key, alias) => {
    expect(defaultAlias(name, key)).toBe(alias);
    expect(validateKey('alias', defaultAlias(name, key))).toBe(alias);
  });
});

describe('linkedKeys', () => {
  it('a link with keys brings exactly those pairs', () => {
    const link: AddonLink = { addon: 'pg', keys: [{ key: 'url', alias: 'DATABASE_URL' }] };
    expect(linkedKeys(link, addons.get('pg'))).toEqual([{ key: 'url', alias: 'DATABASE_URL' }]);
  });

  it('a link without keys brings every key of the addon, sorted, by default alias', () => {
    expect(linkedKeys({ addon: 'pg', keys: [] }, addons.get('pg'))).toEqual([
      { key: 'password', alias: 'PG_PASSWORD' },
      { key: 'url', alias: 'PG_URL' },
    ]);
  });

  it('a link without keys to a missing addon brings nothing', () => {
    expect(linkedKeys({ addon: 'gone', keys: [] }, undefined)).toEqual([]);
  });
});

describe('addonValues', () => {
  it('maps each alias to the current addon value and records its addon', () => {
    const { values, origin } = addonValues(
      [{ addon: 'pg', keys: [{ key: 'url', alias: 'DATABASE_URL' }] }, { addon: 'main-db', keys: [] }],
      addons,
    );
    expect(values).toEqual({ DATABASE_URL: 'postgres://x', MAIN_DB_URL: 'm' });
    expect([...origin]).toEqual([
      ['DATABASE_URL', 'pg'],
      ['MAIN_DB_URL', 'main-db'],
    ]);
  });

  it('a link to a deleted addon or a key removed by rotation brings nothing (resolution never fails)', () => {
    const { values } = addonValues(
      [{ addon: 'gone', keys: [] }, { addon: 'pg', keys: [{ key: 'host', alias: 'PG_HOST' }] }],
      addons,
    );
    expect(values).toEqual({});
  });
});

describe('checkAddonLinks (save time)', () => {
  it('accepts links to existing keys under distinct aliases', () => {
    expect(() =>
      checkAddonLinks([{ addon: 'pg', keys: [] }, { addon: 'main-db', keys: [{ key: 'url', alias: 'MAIN' }] }], { A: '1' }, addons),
    ).not.toThrow();
  });

  it.each<[string, AddonLink[], Record<string, string>, RegExp]>([
    ['the same addon linked twice', [{ addon: 'pg', keys: [] }, { addon: 'pg', keys: [] }], {}, /linked twice/],
    ['a key the addon does not have', [{ addon: 'pg', keys: [{ key: 'host', alias: 'H' }] }], {}, /pg has no key "host"/],
    ['an invalid alias', [{ addon: 'pg', keys: [{ key: 'url', alias: '9LIVES' }] }], {}, /9LIVES/],
    ['an alias colliding with a variable', [{ addon: 'pg', keys: [] }], { PG_URL: 'x' }, /PG_URL.*collides/],
    [
      'an alias used by two addons',
      [{ addon: 'pg', keys: [{ key: 'url', alias: 'URL' }] }, { addon: 'main-db', keys: [{ key: 'url', alias: 'URL' }] }],
      {},
      /URL is used by both addon pg and addon main-db/,
    ],
  ])('refuses %s (INVALID_ARGUMENT)', (_rule, links, variables, message) => {
    let err: unknown;
    try {
      checkAddonLinks(links, variables, addons);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((err as Error).message).toMatch(message);
  });

  it('refuses an unknown addon (NOT_FOUND, naming it)', () => {
    expect(() => checkAddonLinks([{ addon: 'gone', keys: [] }], {}, addons)).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND', message: expect.stringMatching(/addon gone in this project not found/) }),
    );
  });
});
