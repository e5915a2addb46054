/**
 * Request decoding that refuses bad text instead of repairing it. ts-proto's generated decode
 * reads every `string` field through the BinaryReader it is given (nested messages and map
 * entries share it), and BinaryReader replaces invalid UTF-8 with U+FFFD unless asked to be
 * strict: handing the generated decoder this reader checks every string field of every message,
 * derived from the message types themselves, at no extra cost.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { textFault } from '../domain/validation.js';

/** Why a request's text was refused. */
export class BadText extends Error {
  constructor(readonly reason: 'utf8' | 'nul') {
    super(reason === 'utf8' ? 'a string field is not valid UTF-8' : 'a string field contains a NUL character');
    this.name = 'BadText';
  }
}

export class StrictReader extends BinaryReader {
  override string(): string {
    let text: string;
    try {
      text = super.string(true);
    } catch (e) {
      // A fatal TextDecoder throws TypeError; a truncated field is a malformed message instead.
      if (e instanceof TypeError) throw new BadText('utf8');
      throw e;
    }
    // NUL ends C strings (environment variables, file names): no text field may hold it.
    if (text.includes('\0')) throw new BadText('nul');
    return text;
  }
}

const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The same rule for a JSON request (the web console): the body must be valid UTF-8, and no
 * string in it (keys included) may hold NUL or a lone surrogate, which the protobuf encoder
 * would otherwise turn into U+FFFD on the way to the handlers. Returns the parsed body.
 */
export function parseStrictJson(body: Uint8Array): unknown {
  let text: string;
  try {
    text = FATAL_UTF8.decode(body);
  } catch {
    throw new BadText('utf8');
  }
  const value: unknown = text.trim() ? JSON.parse(text) : {};
  const check = (v: unknown): void => {
    if (typeof v === 'string') {
      const fault = textFault(v);
      if (fault) throw new BadText(fault === 'nul' ? 'nul' : 'utf8');
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        check(k);
        check(x);
      }
    }
  };
  check(value);
  return value;
}
