/**
 * Workloads whose resolutions have the same content (the same groups reach them and they have
 * no variables of their own) differ in their encoded message only by the workload's name. The
 * snapshots encode such a resolution once and give the others a copy of its bytes with that
 * field replaced: one change of a group reaching hundreds of workloads is then one merge and
 * one encoding, not hundreds (docs/architecture.md, the snapshots row of the server's boxes).
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { encodeFramed } from './framed-bytes.js';

const RESOLUTION_TAG = (1 << 3) | 2; // ResolveResponse.resolution, length-delimited
const PROJECT_TAG = (1 << 3) | 2; // Resolution.project
const WORKLOAD_TAG = (2 << 3) | 2; // Resolution.workload

/**
 * Where the Resolution's fields start in `bytes`, and where its workload field starts and ends;
 * undefined unless the message is a Resolution alone, its project (if any) first and its
 * workload next.
 */
function fieldsAround(bytes: Uint8Array): { bodyStart: number; before: number; after: number } | undefined {
  const r = new BinaryReader(bytes);
  try {
    if (r.uint32() !== RESOLUTION_TAG) return undefined;
    const length = r.uint32();
    const bodyStart = r.pos;
    if (bodyStart + length !== r.len) return undefined;
    let before = r.pos;
    let tag = r.uint32();
    if (tag === PROJECT_TAG) {
      const projectLength = r.uint32(); // read before r.pos: `r.pos += r.uint32()` would add to the old position
      r.pos += projectLength;
      before = r.pos;
      tag = r.uint32();
    }
    if (tag !== WORKLOAD_TAG) return undefined;
    const workloadLength = r.uint32();
    const after = r.pos + workloadLength;
    return after <= r.len ? { bodyStart, before, after } : undefined;
  } catch {
    return undefined; // truncated
  }
}

/**
 * The encoded resolution `bytes` (a ResolveResponse, as encodeResolution writes it: project,
 * then workload, first) for `workload` instead, framed like it; undefined when the bytes are not
 * laid out that way (the caller then encodes the resolution itself).
 */
export function renameResolution(bytes: Uint8Array, workload: string): Uint8Array | undefined {
  const around = fieldsAround(bytes);
  if (!around) return undefined;
  const { bodyStart, before, after } = around;

  // Framed like encodeResolution's output: the fields before the workload, the new one, the rest.
  return encodeFramed((w) =>
    w
      .tag(1, WireType.LengthDelimited)
      .fork()
      .raw(bytes.subarray(bodyStart, before))
      .tag(2, WireType.LengthDelimited)
      .string(workload)
      .raw(bytes.subarray(after))
      .join(),
  );
}
