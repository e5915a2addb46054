/** Types of scripts/gen-api-docs.mjs, for its test. */
/** A buf image (FileDescriptorSet with source info) as protobuf JSON. */
export interface BufImage {
  file: Array<{
    name: string;
    package?: string;
    messageType?: Array<{ name: string; field?: Array<{ name: string }>; nestedType?: Array<{ name: string; options?: { mapEntry?: boolean } }> }>;
    enumType?: Array<{ name: string; value: Array<{ name: string }> }>;
    service?: Array<{ name: string; method: Array<{ name: string }> }>;
  }>;
}
export function buildImage(): BufImage;
export function render(image: BufImage): string;
