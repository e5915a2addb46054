/**
 * Byte ranges of encoded messages compared in place (resolution-delta.ts, resolution-overlay.ts).
 */

/** Compares byte ranges: <0, 0 or >0. A loop: the ranges are short, and Buffer#compare's argument checks cost more than the bytes. */
export function compareRanges(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let k = 0; k < n; k++) {
    const d = a[as + k]! - b[bs + k]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}
