/** Documented size limits (README "Limits"). Kept in one place so docs and checks agree. */
export const LIMITS = {
  nameLength: 63,
  keyLength: 256,
  valueBytes: 64 * 1024,
  keysPerGroup: 1000,
  groupBytes: 1024 * 1024,
  fileBytes: 1024 * 1024,
  filesPerGroup: 100,
  pathLength: 1024,
  tagsPerWorkload: 64,
  groupsPerProject: 1000,
  descriptionLength: 1024,
  importBytes: 2 * 1024 * 1024,
  /** gRPC max receive message size on the server. */
  requestBytes: 8 * 1024 * 1024,
} as const;
