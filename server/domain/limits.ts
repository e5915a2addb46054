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
  /** gRPC max receive message size on the server; the console's HTTP requests too. */
  requestBytes: 8 * 1024 * 1024,
  /**
   * gRPC max send message size on the server; the console's HTTP answers too (one constant, so
   * an answer gRPC would refuse is refused on the console path as well).
   */
  responseBytes: 64 * 1024 * 1024,
  /**
   * History budget of one group (docs/storage.md, "History budget"): its revisions are kept
   * newest first while their stored bytes fit in 16 MiB and their number in 200; older ones are
   * pruned by the write that pushes them out. The newest revision and the newest one with
   * content (what RestoreGroup brings back) are always kept. 16 MiB keeps about ten revisions
   * of a group at its 1 MiB limit (stored sealed, a revision is about 1.4 times its size), so a
   * stream of small writes to a large group costs a bounded amount, not 1 MiB per write.
   */
  historyBytes: 16 * 1024 * 1024,
  historyRevisions: 200,
  /** ListGroupHistory: revisions per page when the request names none, and at most. */
  historyPageSize: 20,
  historyPageMax: 100,
  /**
   * ListGroupHistory: stored bytes of the revisions one page reads (always at least one): 4 MiB
   * holds two full-size revisions and keeps a page's answer far below responseBytes.
   */
  historyPageBytes: 4 * 1024 * 1024,
} as const;
