import { describe, expect, it } from 'vitest';
import { DomainError } from '../../server/domain/errors.js';
import {
  type Binding,
  masterKeyFromBytes,
  newDataKey,
  openBytes,
  openString,
  sealBytes,
  sealString,
  sealStrings,
  unwrapDataKey,
  wrapDataKey,
} from '../../server/security/envelope.js';
import { generateMasterKey } from '../../server/security/master-key.js';

const at: Binding = { project: 'p', record: 'group', name: 'g', field: 'variables', key: 'K' };

function thrown(f: () => unknown): DomainError {
  try {
    f();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('expected a DomainError');
}

describe('envelope', () => {
  it('round-trips strings and bytes, including empty and non-ASCII values', () => {
    const k = newDataKey();
    for (const v of ['', 'x', 'ü 🙂 \n\0 tail', 'a'.repeat(100_000)]) expect(openString(k, sealString(k, v, at), at)).toBe(v);
    for (const v of [new Uint8Array(0), Uint8Array.from([0, 255, 58, 10]), new Uint8Array(1 << 20).fill(7)]) {
      expect(Buffer.from(openBytes(k, sealBytes(k, v, at), at)).equals(Buffer.from(v))).toBe(true);
    }
  });

  it('never repeats a nonce, across refills of the nonce pool', () => {
    const k = newDataKey();
    const nonces = new Set<string>();
    // 5,000 seals span about ten refills of the 512-nonce pool.
    for (let i = 0; i < 5_000; i++) {
      const payload = Buffer.from(sealString(k, 'same value', at).split(':')[2]!, 'base64');
      nonces.add(payload.subarray(0, 12).toString('hex'));
    }
    expect(nonces.size).toBe(5_000);
  });

  it('uses the compact versioned format with the data key id and a 12-byte nonce and 16-byte tag', () => {
    const k = newDataKey();
    const s = sealString(k, 'abc', at);
    const m = /^sg1:([A-Za-z0-9_-]+):([A-Za-z0-9+/=]+)$/.exec(s)!;
    expect(m[1]).toBe(k.id);
    expect(Buffer.from(m[2]!, 'base64')).toHaveLength(12 + 3 + 16);
    expect(Buffer.from(sealBytes(k, Buffer.from('abc'), at)).toString('latin1').startsWith(`sg1:${k.id}:`)).toBe(true);
  });

  it('binds every part of the location: any change fails authentication', () => {
    const k = newDataKey();
    const s = sealString(k, 'v', at);
    const variants: Binding[] = [
      { ...at, project: 'q' },
      { ...at, record: 'workload' },
      { ...at, name: 'h' },
      { ...at, field: 'buildArguments' },
      { ...at, key: 'L' },
      { ...at, revision: 2 },
      { ...at, record: 'history', revision: 1 },
      // No ambiguity from separators inside names.
      { ...at, name: 'g|variables', field: 'K' },
    ];
    for (const b of variants) {
      const e = thrown(() => openString(k, s, b));
      expect(e.code).toBe('INTERNAL');
      expect(e.message).toMatch(/failed authentication \(tampered or swapped\)$/);
    }
  });

  it('sealStrings seals each value of a map as sealString does at its key, and binds it there', () => {
    const k = newDataKey();
    const { key: _k, ...place } = { ...at, revision: 7 };
    const values = { K: 'v1', 'a"b\\c': 'v2', 'ü 🙂': '', '\u2028]': 'x'.repeat(1000) };
    const sealed = sealStrings(k, values, place);
    expect(Object.keys(sealed)).toEqual(Object.keys(values));
    for (const [name, v] of Object.entries(values)) {
      expect(sealed[name]).toMatch(new RegExp(`^sg1:${k.id}:[A-Za-z0-9+/=]+$`));
      expect(openString(k, sealed[name]!, { ...place, key: name })).toBe(v);
      // The same bytes sealString's associated data names: a value moved to another key, field or revision fails.
      for (const b of [{ ...place, key: 'other' }, { ...place, key: name, field: 'buildArguments' }, { ...place, key: name, revision: 8 }]) {
        expect(thrown(() => openString(k, sealed[name]!, b)).message).toMatch(/failed authentication/);
      }
    }
    expect(openString(k, sealString(k, 'v1', { ...place, key: 'K' }), { ...place, key: 'K' })).toBe('v1');
  });

  it('names the foreign data key when a value comes from another project', () => {
    const a = newDataKey();
    const b = newDataKey();
    expect(thrown(() => openString(b, sealString(a, 'v', at), at)).message).toBe(
      `ciphertext for group p/g variables key K was sealed under data key ${a.id}, not this project's data key ${b.id} (swapped between projects?)`,
    );
  });

  it('wraps data keys bound to their project; the master key id names the wrapping key', () => {
    const m = generateMasterKey().key;
    const other = generateMasterKey().key;
    const dk = newDataKey();
    const w = wrapDataKey(m, dk, 'p');
    expect(w).toMatchObject({ v: 1, id: dk.id, mk: m.id });
    const back = unwrapDataKey([m], w, 'p');
    expect(openString(back, sealString(dk, 'v', at), at)).toBe('v');
    expect(thrown(() => unwrapDataKey([m], w, 'q')).message).toBe('the wrapped data key of project q failed authentication (tampered or swapped)');
    const wrong = thrown(() => unwrapDataKey([other], w, 'p'));
    expect(wrong.code).toBe('FAILED_PRECONDITION');
    expect(wrong.message).toContain(`wrapped by master key ${m.id}, but the loaded master key is ${other.id}`);
  });

  it('derives a stable master key id that differs between keys', () => {
    const bytes = Buffer.alloc(32, 1);
    expect(masterKeyFromBytes(bytes).id).toBe(masterKeyFromBytes(Buffer.from(bytes)).id);
    expect(masterKeyFromBytes(Buffer.alloc(32, 2)).id).not.toBe(masterKeyFromBytes(bytes).id);
    expect(thrown(() => masterKeyFromBytes(Buffer.alloc(16))).code).toBe('INVALID_ARGUMENT');
  });
});
