/**
 * The webhook's HTTPS server: `POST /mutate` (AdmissionReview v1 in and out) and
 * `GET /healthz`. Request bodies are bounded; the certificate and key are re-read when their
 * files change, so a rotated certificate (cert-manager, or a re-created Secret, which the
 * kubelet swaps in place) is served without a restart.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../log.js';
import { readReview, reviewResponse, type AdmissionResponse } from './admission.js';
import { decide } from './decide.js';
import type { InjectorSettings } from './inject.js';
import type { WorkloadChecker } from './workload-check.js';

/** An AdmissionReview holds one pod (etcd stores objects up to 1.5 MiB); leave room for JSON. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface InjectorServerOptions {
  host: string;
  port: number;
  tlsCert: string;
  tlsKey: string;
  settings: InjectorSettings;
  checker: WorkloadChecker;
  log: Logger;
  /** How often the certificate files are compared with the ones served. Default 10 s. */
  reloadIntervalMs?: number;
}

export interface InjectorServer {
  /** host:port actually bound (port 0 picks one). */
  addr: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? `${body}\n` : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' });
  res.end(text);
}

/** Decides one review: the pure decision, then the server's word on the workload. */
async function mutate(body: Buffer, o: InjectorServerOptions): Promise<AdmissionResponse> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  const req = readReview(parsed);
  if (typeof req === 'string') throw new HttpError(400, req);
  const pod = req.object as { metadata?: { name?: string; generateName?: string } } | undefined;
  const subject = `${req.namespace ?? ''}/${pod?.metadata?.name || `${pod?.metadata?.generateName ?? ''}*`}`;
  const d = decide(req, o.settings);
  const deny = (reason: string): AdmissionResponse => {
    o.log.info({ pod: subject, allowed: false, reason }, 'pod refused');
    return { uid: req.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: `secret-groups injector: ${reason}` } };
  };
  if (!d.allowed) return deny(d.reason);
  if (!d.patch) {
    o.log.debug({ pod: subject, why: d.why }, 'pod admitted unchanged');
    return { uid: req.uid, allowed: true };
  }
  const known = await o.checker.check(d.config.project, d.config.workload);
  if (!known.ok) return deny(known.reason);
  o.log.info({ pod: subject, project: d.config.project, workload: d.config.workload, mode: d.config.mode }, 'agent injected');
  return { uid: req.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(d.patch)).toString('base64') };
}

export async function startInjectorServer(o: InjectorServerOptions): Promise<InjectorServer> {
  let cert = await readFile(o.tlsCert);
  let key = await readFile(o.tlsKey);
  const server: Server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) return send(res, 200, 'ok');
    if (path !== '/mutate') return send(res, 404, 'not found: the webhook serves POST /mutate and GET /healthz');
    if (req.method !== 'POST') return send(res, 405, 'POST an AdmissionReview to /mutate');
    readBody(req)
      .then((body) => mutate(body, o))
      .then((response) => send(res, 200, reviewResponse(response)))
      .catch((e: unknown) => {
        const status = e instanceof HttpError ? e.status : 500;
        if (status === 500) o.log.error({ error: (e as Error).message }, 'admission failed');
        // A body that was not read to the end: close the connection rather than read on.
        if (status === 413) res.setHeader('connection', 'close');
        send(res, status, (e as Error).message);
      });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;

  // Compare the files' bytes with what is served; a half-written pair (cert and key not
  // matching yet) fails createSecureContext and is tried again on the next tick.
  const reload = async () => {
    try {
      const [c, k] = await Promise.all([readFile(o.tlsCert), readFile(o.tlsKey)]);
      if (c.equals(cert) && k.equals(key)) return;
      createSecureContext({ cert: c, key: k });
      server.setSecureContext({ cert: c, key: k, minVersion: 'TLSv1.2' });
      cert = c;
      key = k;
      o.log.info({ cert: o.tlsCert }, 'TLS certificate reloaded');
    } catch (e) {
      o.log.warn({ error: (e as Error).message }, 'TLS certificate not reloaded; serving the previous one');
    }
  };
  const timer = setInterval(() => void reload(), o.reloadIntervalMs ?? 10_000);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    addr: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        o.checker.close();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
