/**
 * The console transcodes a handler's answer only within the gRPC server's max send size
 * (LIMITS.responseBytes, the constant the gRPC server is configured with): a larger answer is
 * refused as gRPC refuses it, instead of being sent as an unbounded JSON body.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../server/domain/limits.js';
import { ResponseTooLarge, responseToJson, type Route } from '../../server/console/rpc-routes.js';
import { ListGroupHistoryResponse } from '../../gen/light/secretgroups/v1/secret_group_service.js';

/** A route whose handler answers `bytes` already encoded (as passthrough handlers do). */
const route = { name: 'test', responseType: ListGroupHistoryResponse, keysOnlyRecords: false, grpcMethod: {} } as unknown as Route;

describe('console answers are held to the gRPC max message size', () => {
  it('an answer one byte over LIMITS.responseBytes is refused, naming the limit', () => {
    const tooBig = new Uint8Array(LIMITS.responseBytes + 1);
    expect(() => responseToJson(route, tooBig)).toThrow(ResponseTooLarge);
    expect(() => responseToJson(route, tooBig)).toThrow(`exceeds the ${LIMITS.responseBytes}-byte message limit`);
  });

  it('an answer within the limit is transcoded', () => {
    const bytes = ListGroupHistoryResponse.encode(ListGroupHistoryResponse.fromPartial({ nextBeforeRevision: 7, oldestKeptRevision: 3 })).finish();
    expect(responseToJson(route, bytes)).toMatchObject({ nextBeforeRevision: 7, oldestKeptRevision: 3 });
  });
});
