/**
 * The console's mount sends a handler's answer only within the gRPC server's max send size
 * (LIMITS.responseBytes, the constant the gRPC server is configured with): a larger answer is
 * refused as gRPC refuses it, instead of being sent as an unbounded JSON body.
 */
import { toJson } from '@bufbuild/protobuf';
import { ConnectError } from '@connectrpc/connect';
import type * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { Code } from '../../client/status-codes.js';
import { ListGroupHistoryResponse } from '../../gen/secretgroups/v1/secret_group_service.js';
import { SERVICE_DEFINITIONS } from '../../server/api/server.js';
import { answerOf } from '../../server/console/connect-mount.js';
import { consoleServices } from '../../server/console/descriptors.js';
import { LIMITS } from '../../server/domain/limits.js';

const method = consoleServices().groups.methods.find((m) => m.name === 'ListGroupHistory')!;
const grpcMethod = SERVICE_DEFINITIONS.groups.listGroupHistory as grpc.MethodDefinition<unknown, unknown>;

describe('console answers are held to the gRPC max message size', () => {
  it('an answer one byte over LIMITS.responseBytes is refused, naming the limit', () => {
    const tooBig = new Uint8Array(LIMITS.responseBytes + 1);
    let thrown: unknown;
    try {
      answerOf(method, grpcMethod, tooBig, false);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConnectError);
    expect((thrown as ConnectError).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect((thrown as ConnectError).rawMessage).toContain(`exceeds the ${LIMITS.responseBytes}-byte message limit`);
  });

  it('an answer within the limit is sent', () => {
    const value = ListGroupHistoryResponse.fromPartial({ nextBeforeRevision: 7, oldestKeptRevision: 3 });
    expect(toJson(method.output, answerOf(method, grpcMethod, value, false))).toMatchObject({ nextBeforeRevision: '7', oldestKeptRevision: '3' });
  });
});
