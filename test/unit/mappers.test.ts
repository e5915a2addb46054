/** Enum values from the wire: UNSPECIFIED takes the documented default, unknown numbers are refused. */
import { describe, expect, it } from 'vitest';
import { groupScopeFromPb, kindFromPb, resolveScopeFromPb, typeFromPb } from '../../server/api/mappers.js';
import { GroupType, Scope, WorkloadKind } from '../../gen/secretgroups/v1/resources.js';

const refused = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));

describe('enum mapping', () => {
  it('maps each known value and the UNSPECIFIED default', () => {
    expect([kindFromPb(WorkloadKind.WORKLOAD_KIND_JOB), kindFromPb(WorkloadKind.WORKLOAD_KIND_UNSPECIFIED)]).toEqual(['job', 'service']);
    expect([typeFromPb(GroupType.GROUP_TYPE_CONFIG), typeFromPb(GroupType.GROUP_TYPE_UNSPECIFIED)]).toEqual(['config', 'secret']); // secret is the safe default
    expect([groupScopeFromPb(Scope.SCOPE_BUILD), groupScopeFromPb(Scope.SCOPE_UNSPECIFIED)]).toEqual(['build', 'both']);
    expect([resolveScopeFromPb(Scope.SCOPE_BUILD), resolveScopeFromPb(Scope.SCOPE_UNSPECIFIED)]).toEqual(['build', 'runtime']);
  });

  it('refuses unknown numbers, and BOTH as a resolution scope', () => {
    refused(() => kindFromPb(7 as WorkloadKind));
    refused(() => typeFromPb(9 as GroupType));
    refused(() => groupScopeFromPb(42 as Scope));
    refused(() => resolveScopeFromPb(Scope.SCOPE_BOTH));
  });
});
