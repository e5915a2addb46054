/**
 * Byte offsets into an encoded message, in a buffer kept from one read to the next. The readers
 * of resolutions (resolution-delta.ts, resolution-overlay.ts) run once per identity in every
 * fan-out, hundreds per change: offsets pushed onto fresh arrays, which grow by copying, were
 * about a third of what a fan-out allocated (docs/performance.md, "Less garbage per fan-out").
 * Each reader uses its lists synchronously and clears them before the next message.
 */

/** Lists that grew past this many offsets are given back at the next clear(). */
const KEPT_OFFSETS = 64 * 1024;
const INITIAL_OFFSETS = 256;

export class OffsetList {
  private offsets = new Int32Array(INITIAL_OFFSETS);
  length = 0;

  /** Empties the list (and lets go of a buffer grown past KEPT_OFFSETS). */
  clear(): void {
    this.length = 0;
    if (this.offsets.length > KEPT_OFFSETS) this.offsets = new Int32Array(INITIAL_OFFSETS);
  }

  push(offset: number): void {
    if (this.length === this.offsets.length) {
      const grown = new Int32Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.offsets[this.length++] = offset;
  }

  /** The offset at `i` (< length). */
  get(i: number): number {
    return this.offsets[i]!;
  }

  /** The last offset (the list is not empty). */
  last(): number {
    return this.offsets[this.length - 1]!;
  }
}
