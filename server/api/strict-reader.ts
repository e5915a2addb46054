/**
 * Request decoding that refuses bad text instead of repairing it. ts-proto's generated decode
 * reads every `string` field through the BinaryReader it is given (nested messages and map
 * entries share it), and BinaryReader replaces invalid UTF-8 with U+FFFD unless asked to be
 * strict: handing the generated decoder this reader checks every string field of every message,
 * derived from the message types themselves, at no extra cost.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';

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
