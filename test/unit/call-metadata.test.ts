import * as grpc from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import { forgetMetadata } from '../../server/api/grpc-adapter.js';

it('a long-lived call forgets its request metadata, the bearer token among it', () => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Bearer sg_secret_token_value');
  metadata.set('user-agent', 'grpc-node-js/1.0');
  const call = { metadata } as unknown as grpc.ServerWritableStream<unknown, unknown>;
  forgetMetadata(call);
  expect(metadata.getMap()).toEqual({});
  expect(JSON.stringify(metadata.toJSON())).not.toContain('sg_secret');
});
