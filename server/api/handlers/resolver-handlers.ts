/**
 * ResolverService. Resolve answers with bytes encoded once per (snapshot, identity) and
 * Watch writes bytes shared by every subscriber of an identity; the service definition's
 * serializers pass such bytes through (see passthroughSerializers in server/api/server.ts).
 */
import {
  ExplainResponse,
  ResolveResponse,
  WatchResponse,
  type ResolverServiceServer,
} from '../../../gen/secretgroups/v1/resolver_service.js';
import type { ResolverService } from '../../service/resolver.js';
import type { ResolutionEncoder, ResolutionKeys } from '../../watch/snapshots.js';
import type { WatchEncoder } from '../../watch/hub.js';
import { serverStream, unary, unaryFast, type ApiContext } from '../call.js';
import { encodeFramed } from '../framed-bytes.js';
import type { HandlersOf } from '../grpc-adapter.js';
import { conflictToPb, provenanceToPb, resolutionToPb, resolveScopeFromPb } from '../mappers.js';

/**
 * ResolveResponse and WatchResponse both carry the Resolution as field 1, so one encoding
 * serves both (a test checks they stay byte-identical).
 */
export const encodeResolution: ResolutionEncoder = (r) => encodeFramed((w) => ResolveResponse.encode({ resolution: resolutionToPb(r) }, w));

/** The keys of an encodeResolution result, in the order they were encoded. */
export const resolutionKeys: ResolutionKeys = (bytes) => Object.keys(ResolveResponse.decode(bytes).resolution?.variables ?? {});

export const watchEncoder: WatchEncoder = {
  unchanged: (etag) => WatchResponse.encode({ unchanged: { etag } }).finish(),
  restart: (group, requestedBy, timeMs) => WatchResponse.encode({ restart: { group, requestedBy, timeMs } }).finish(),
  heartbeat: (timeMs) => WatchResponse.encode({ heartbeat: { timeMs } }).finish(),
};

export function resolverHandlers(ctx: ApiContext, svc: ResolverService): HandlersOf<ResolverServiceServer> {
  return {
    // Pre-encoded once per snapshot and identity: the serializer passes the bytes through.
    resolve: unaryFast(
      ctx,
      'Resolve',
      (p, req) => svc.resolveLoaded(p, req.project, req.workload, resolveScopeFromPb(req.scope), req.tags)?.bytes as unknown as ResolveResponse | undefined,
      async (p, req) => {
        const { resolution } = await svc.resolve(p, req.project, req.workload, resolveScopeFromPb(req.scope), req.tags);
        return resolution.bytes as unknown as ResolveResponse;
      },
    ),

    explain: unary(ctx, 'Explain', async (p, req) => {
      const { resolution: r, showEtag } = await svc.explain(p, req.project, req.workload, resolveScopeFromPb(req.scope));
      return ExplainResponse.fromPartial({
        etag: showEtag ? r.etag : '',
        variables: r.provenance.map(provenanceToPb),
        files: r.fileProvenance.map(provenanceToPb),
        conflicts: r.conflicts.map(conflictToPb),
      });
    }),

    // Refused Watch calls are audited like refused unary calls; the stream cap too.
    watch: serverStream(
      ctx,
      'Watch',
      (p, req, stream) =>
        svc.watch(p, req.project, req.workload, resolveScopeFromPb(req.scope), req.etag, req.tags, {
          // Pre-encoded, passed through. Nothing after the end (StreamCall.write): a subscriber
          // whose transport was full may still hold a resolution for the moment it drains.
          write: (bytes, written) => stream.write(bytes as unknown as WatchResponse, written),
          onDrain: (fn) => stream.onDrain(fn),
          fail: (code, message) => stream.close(code, message),
        }),
      { auditRefused: true },
    ),
  };
}
