/**
 * Envelope encryption primitives (AES-256-GCM, node:crypto only).
 *
 * - A master key (32 bytes, from SG_MASTER_KEY or a key file) wraps one data key per project.
 * - A data key (32 random bytes) seals every value of its project.
 * - Every ciphertext carries associated data that names exactly where it belongs (project,
 *   record, field, key), so a ciphertext copied to another record, field or key fails
 *   authentication instead of decrypting to someone else's value.
 *
 * Sealed value formats (version "sg1"):
 * - strings:  `sg1:<dataKeyId>:<base64(nonce[12] | ciphertext | tag[16])>`
 * - bytes:    the ASCII bytes `sg1:<dataKeyId>:` followed by the raw nonce | ciphertext | tag
 *   (file contents are already binary; a second base64 layer would only waste space).
 *
 * Key bytes never leave this module: `SecretKey` keeps them in a module-private WeakMap and
 * prints as its id only, so a key cannot end up in a log line or an error by accident.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { DomainError } from '../domain/errors.js';

export const SEAL_VERSION = 'sg1';
const PREFIX = `${SEAL_VERSION}:`;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

const material = new WeakMap<SecretKey, Buffer>();

/** A 256-bit key with a public id. The bytes are reachable only inside this module. */
export class SecretKey {
  private constructor(readonly id: string) {}

  /** @internal Only this module and key loading construct keys. */
  static fromBytes(id: string, bytes: Uint8Array): SecretKey {
    if (!KEY_ID.test(id)) throw new DomainError('INTERNAL', 'invalid key id');
    if (bytes.length !== KEY_BYTES) throw new DomainError('INTERNAL', `a key must be ${KEY_BYTES} bytes`);
    const key = new SecretKey(id);
    material.set(key, Buffer.from(bytes));
    return key;
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }

  toString(): string {
    return `SecretKey(${this.id})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function bytesOf(key: SecretKey): Buffer {
  const b = material.get(key);
  if (!b) throw new DomainError('INTERNAL', 'unknown key object');
  return b;
}

/**
 * The master key from its 32 bytes. Its id is derived from the key (HMAC, one-way), so the
 * same key always has the same id and a wrapped data key can name the master key that
 * wrapped it without revealing anything about it.
 */
export function masterKeyFromBytes(bytes: Uint8Array): SecretKey {
  if (bytes.length !== KEY_BYTES) {
    throw new DomainError('INVALID_ARGUMENT', `a master key must be exactly ${KEY_BYTES} bytes, got ${bytes.length}`);
  }
  const id = createHmac('sha256', Buffer.from(bytes)).update('secret-groups master key id v1').digest('hex').slice(0, 16);
  return SecretKey.fromBytes(id, bytes);
}

/** A fresh random data key with a random id. */
export function newDataKey(): SecretKey {
  return SecretKey.fromBytes(randomBytes(9).toString('base64url'), randomBytes(KEY_BYTES));
}

/** Where a ciphertext belongs. Every part goes into the associated data. */
export interface Binding {
  project: string;
  /** 'workload' | 'addon' | 'group' for current records, 'history' for group history entries. */
  record: string;
  name: string;
  /**
   * The record's revision (or, for history, the revision the entry describes): a value copied
   * from an older copy of the same record fails instead of silently rolling that value back.
   */
  revision?: number;
  /** The record field, e.g. 'variables', 'buildArguments', 'files'. */
  field: string;
  /** The variable key, or the file path for files. */
  key: string;
  /**
   * Not part of the associated data: how errors name the place when a history entry holds
   * values sealed at its group record's place (see SealedStore's sealWrite).
   */
  shownAs?: 'history';
}

/** JSON of a fixed tuple: unambiguous whatever characters names and paths contain. */
function aadOf(b: Binding): Buffer {
  return Buffer.from(aadHead(b) + aadTail(b.key));
}

/**
 * The associated data's JSON (`[version, project, record, name, revision, field, key]`) up to
 * the key, so that sealStrings works it out once per place: `[…,"field",`.
 */
function aadHead(place: Omit<Binding, 'key'>): string {
  return `${JSON.stringify([SEAL_VERSION, place.project, place.record, place.name, place.revision ?? null, place.field]).slice(0, -1)},`;
}

/** The rest after aadHead: the key's JSON and the closing bracket. */
const aadTail = (key: string) => `${JSON.stringify(key)}]`;

/** Human description for errors: names and keys only, never values. */
export function describeBinding(b: Binding): string {
  const owner =
    b.record === 'history' || b.shownAs === 'history' ? `history of group ${b.project}/${b.name} revision ${b.revision}` : `${b.record} ${b.project}/${b.name}`;
  const what = b.field === 'files' ? `file ${b.key}` : `${b.field} key ${b.key}`;
  return `${owner} ${what}`;
}

/**
 * Random nonces cut from a CSPRNG buffer, each slice handed out once: one randomBytes call per
 * NONCE_POOL / 12 nonces instead of one per value. A group write seals every value of the group
 * (once, shared by its history entry); one call each was ~10% of the server's CPU on that path.
 */
const NONCE_POOL = 12 * 512;
let noncePool = Buffer.alloc(0);
let nonceAt = 0;

function freshNonce(): Buffer {
  if (nonceAt + NONCE_BYTES > noncePool.length) {
    noncePool = randomBytes(NONCE_POOL); // a new buffer: slices handed out earlier stay as they were
    nonceAt = 0;
  }
  const nonce = noncePool.subarray(nonceAt, nonceAt + NONCE_BYTES);
  nonceAt += NONCE_BYTES;
  return nonce;
}

function encrypt(key: SecretKey, plaintext: Uint8Array, aad: Buffer): Buffer {
  return encryptWith(bytesOf(key), plaintext, aad);
}

function encryptWith(key: Buffer, plaintext: Uint8Array, aad: Buffer): Buffer {
  const nonce = freshNonce();
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = cipher.update(plaintext);
  const rest = cipher.final(); // GCM is a stream mode: empty, but it completes the tag
  return Buffer.concat([nonce, ct, rest, cipher.getAuthTag()]);
}

/** Returns null when authentication fails (wrong key, wrong associated data, or tampering). */
function decrypt(key: SecretKey, payload: Buffer, aad: Buffer): Buffer | null {
  if (payload.length < NONCE_BYTES + TAG_BYTES) return null;
  const nonce = payload.subarray(0, NONCE_BYTES);
  const tag = payload.subarray(payload.length - TAG_BYTES);
  const ct = payload.subarray(NONCE_BYTES, payload.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', bytesOf(key), nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    return null;
  }
}

function malformed(b: Binding): DomainError {
  return new DomainError('INTERNAL', `stored value for ${describeBinding(b)} is not a valid ${SEAL_VERSION} sealed value`);
}

function unauthentic(b: Binding): DomainError {
  return new DomainError('INTERNAL', `ciphertext for ${describeBinding(b)} failed authentication (tampered or swapped)`);
}

function checkKeyId(key: SecretKey, found: string, b: Binding): void {
  if (found !== key.id) {
    throw new DomainError(
      'INTERNAL',
      `ciphertext for ${describeBinding(b)} was sealed under data key ${found}, not this project's data key ${key.id} (swapped between projects?)`,
    );
  }
}

const STRICT_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function sealString(key: SecretKey, value: string, b: Binding): string {
  return `${PREFIX}${key.id}:${encrypt(key, Buffer.from(value, 'utf8'), aadOf(b)).toString('base64')}`;
}

/**
 * sealString for every value of a map, all at one place but their keys (a group write seals
 * every value of the group): the key bytes, the value prefix and the associated data up to
 * the variable key are worked out once. The bytes are sealString's, value by value.
 */
export function sealStrings(key: SecretKey, values: Readonly<Record<string, string>>, place: Omit<Binding, 'key'>): Record<string, string> {
  const bytes = bytesOf(key);
  const head = `${PREFIX}${key.id}:`;
  const aad = aadHead(place);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    out[k] = head + encryptWith(bytes, Buffer.from(v, 'utf8'), Buffer.from(aad + aadTail(k))).toString('base64');
  }
  return out;
}

export function openString(key: SecretKey, sealed: string, b: Binding): string {
  if (typeof sealed !== 'string' || !sealed.startsWith(PREFIX)) throw malformed(b);
  const sep = sealed.indexOf(':', PREFIX.length);
  if (sep < 0) throw malformed(b);
  const id = sealed.slice(PREFIX.length, sep);
  const body = sealed.slice(sep + 1);
  if (!KEY_ID.test(id) || body.length % 4 !== 0 || !STRICT_BASE64.test(body)) throw malformed(b);
  checkKeyId(key, id, b);
  const plain = decrypt(key, Buffer.from(body, 'base64'), aadOf(b));
  if (!plain) throw unauthentic(b);
  return plain.toString('utf8');
}

export function sealBytes(key: SecretKey, value: Uint8Array, b: Binding): Uint8Array {
  return Buffer.concat([Buffer.from(`${PREFIX}${key.id}:`, 'ascii'), encrypt(key, value, aadOf(b))]);
}

export function openBytes(key: SecretKey, sealed: Uint8Array, b: Binding): Uint8Array {
  if (!(sealed instanceof Uint8Array)) throw malformed(b);
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (buf.length < PREFIX.length || buf.toString('ascii', 0, PREFIX.length) !== PREFIX) throw malformed(b);
  const sep = buf.indexOf(0x3a /* ':' */, PREFIX.length);
  if (sep < 0 || sep > PREFIX.length + 64) throw malformed(b);
  const id = buf.toString('ascii', PREFIX.length, sep);
  if (!KEY_ID.test(id)) throw malformed(b);
  checkKeyId(key, id, b);
  const plain = decrypt(key, buf.subarray(sep + 1), aadOf(b));
  if (!plain) throw unauthentic(b);
  return plain;
}

/** A data key wrapped by a master key, as kept in the store's meta. */
export interface WrappedDataKey {
  v: 1;
  /** The data key's id (appears in every value it sealed). */
  id: string;
  /** The id of the master key that wrapped it. */
  mk: string;
  /** base64(nonce | wrapped key | tag). */
  wrapped: string;
}

/** The wrapped key is bound to its project and id: a wrapped key copied to another project fails. */
function wrapAad(project: string, dataKeyId: string): Buffer {
  return Buffer.from(JSON.stringify([SEAL_VERSION, 'datakey', project, dataKeyId]));
}

export function wrapDataKey(master: SecretKey, dataKey: SecretKey, project: string): WrappedDataKey {
  const wrapped = encrypt(master, bytesOf(dataKey), wrapAad(project, dataKey.id));
  return { v: 1, id: dataKey.id, mk: master.id, wrapped: wrapped.toString('base64') };
}

/**
 * Unwraps with whichever of `masters` wrapped the key. FAILED_PRECONDITION when none of them
 * did (the server runs with the wrong master key); INTERNAL when the entry was tampered with.
 */
export function unwrapDataKey(masters: readonly SecretKey[], w: WrappedDataKey, project: string): SecretKey {
  const master = masters.find((m) => m.id === w.mk);
  if (!master) {
    throw new DomainError(
      'FAILED_PRECONDITION',
      `the data key of project ${project} is wrapped by master key ${w.mk}, but the loaded master key is ${masters
        .map((m) => m.id)
        .join(', ')}; start the server with the master key that wrapped it`,
    );
  }
  const plain = decrypt(master, Buffer.from(w.wrapped, 'base64'), wrapAad(project, w.id));
  if (!plain || plain.length !== KEY_BYTES || !KEY_ID.test(w.id)) {
    throw new DomainError('INTERNAL', `the wrapped data key of project ${project} failed authentication (tampered or swapped)`);
  }
  return SecretKey.fromBytes(w.id, plain);
}

export function parseWrappedDataKey(text: string, project: string): WrappedDataKey {
  let w: unknown;
  try {
    w = JSON.parse(text);
  } catch {
    w = null;
  }
  const o = w as Partial<WrappedDataKey> | null;
  if (!o || o.v !== 1 || typeof o.id !== 'string' || typeof o.mk !== 'string' || typeof o.wrapped !== 'string') {
    throw new DomainError('INTERNAL', `the stored data key entry of project ${project} is malformed`);
  }
  return o as WrappedDataKey;
}
