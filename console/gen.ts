/** The browser build of the generated API (gen/light): messages and generic service definitions. */
export * from '../gen/light/secretgroups/v1/resources.js';
export {
  AccessServiceDefinition,
  AccessLevel,
  accessLevelToJSON,
  type AuditEvent,
  Role,
  TokenInfo,
} from '../gen/light/secretgroups/v1/access_service.js';
export { ProjectServiceDefinition } from '../gen/light/secretgroups/v1/project_service.js';
export { ResolverServiceDefinition, type ExplainResponse } from '../gen/light/secretgroups/v1/resolver_service.js';
export {
  SecretGroupServiceDefinition,
  ImportFormat,
  RevealKind,
  type DeletedGroup,
  type DiffGroupRevisionsResponse,
  type GroupDependent,
  type GroupRevision,
  type WorkloadChange,
  type PreviewChangeRequest,
} from '../gen/light/secretgroups/v1/secret_group_service.js';
