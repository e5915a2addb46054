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
import type { WatchEncoder, WatchSink } from '../../watch/hub.js';
import { serverStream, unary, unaryFast, type ApiContext, type StreamCall } from '../call.js';
import { encodeFramed } from '../framed-bytes.js';
import { encodeDelta } from '../resolution-delta.js';
import { overlayResolution } from '../resolution-overlay.js';
import { renameResolution } from '../resolution-rename.js';
import type { Resolution } from '../../domain/types.js';
import type { HandlersOf } from '../grpc-adapter.js';
import { conflictToPb, provenanceToPb, resolutionToPb, resolveScopeFromPb } from '../mappers.js';

/**
 * ResolveResponse and WatchResponse both carry the Resolution as field 1, so one encoding
 * serves both (a test checks they stay byte-identical).
 */
export const encodeResolution: ResolutionEncoder = Object.assign((r: Resolution) => encodeFramed((w) => ResolveResponse.encode({ resolution: resolutionToPb(r) }, w)), {
  rename: renameResolution,
  overlay: overlayResolution,
});

/** The keys of an encodeResolution result, in the order they were encoded. */
export const resolutionKeys: ResolutionKeys = (bytes) => Object.keys(ResolveResponse.decode(bytes).resolution?.variables ?? {});

/** Framed once too: a heartbeat or a restart goes to every subscriber as the same bytes. */
export const watchEncoder: WatchEncoder = {
  unchanged: (etag) => encodeFramed((w) => WatchResponse.encode({ unchanged: { etag } }, w)),
  restart: (group, requestedBy, timeMs) => encodeFramed((w) => WatchResponse.encode({ restart: { group, requestedBy, timeMs } }, w)),
  heartbeat: (timeMs) => encodeFramed((w) => WatchResponse.encode({ heartbeat: { timeMs } }, w)),
  delta: encodeDelta,
};

/**
 * What the hub writes a Watch's messages to: the call itself. Pre-encoded bytes are passed
 * through; nothing is sent after the end (StreamCall.write): a subscriber whose transport was
 * full may still hold a resolution for the moment it drains. A class: one small object per
 * stream rather than three closures and their context (thousands of streams stay open).
 */
class WatchStreamSink implements WatchSink {
  constructor(private readonly stream: StreamCall<WatchResponse>) {}
  write(bytes: Uint8Array, written?: () => void): boolean {
    return this.stream.write(bytes as unknown as WatchResponse, written);
  }
  onDrain(fn: () => void): void {
    this.stream.onDrain(fn);
  }
  fail(code: Parameters<WatchSink['fail']>[0], message: string): void {
    this.stream.close(code, message);
  }
}

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
        svc.watch(p, req.project, req.workload, resolveScopeFromPb(req.scope), req.etag, req.tags, new WatchStreamSink(stream), req.deltas),
      { auditRefused: true },
    ),
  };
}
