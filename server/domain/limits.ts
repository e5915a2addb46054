/** Documented size limits (README "Limits"). Kept in one place so docs and checks agree. */
export const LIMITS = {
  nameLength: 63,
  keyLength: 256,
  valueBytes: 64 * 1024,
  keysPerGroup: 1000,
  /** Also bounds a group's size with its templates expanded and addon links applied. */
  groupBytes: 1024 * 1024,
  /** One workload's resolution (one scope): keys, values and files, after the merge. */
  resolutionBytes: 4 * 1024 * 1024,
  fileBytes: 1024 * 1024,
  filesPerGroup: 100,
  pathLength: 1024,
  tagsPerWorkload: 64,
  /** Names and prefixes a project adds to the execution-controlling keys (each at most keyLength). */
  executionKeyPatterns: 100,
  groupsPerProject: 1000,
  descriptionLength: 1024,
  /**
   * Work of one PreviewChange: workload scopes the change reaches × definitions of the changed
   * keys and files across the project's groups (each a lookup, at most one value comparison).
   */
  previewComparisons: 20_000_000,
  /** Tags a Resolve or Watch may claim (checked against the registered ones). */
  claimedTags: 64,
  importBytes: 2 * 1024 * 1024,
  /** gRPC max receive message size on the server. */
  requestBytes: 8 * 1024 * 1024,
} as const;
