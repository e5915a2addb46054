/** An in-process server on an ephemeral loopback port, plus admin clients, for API tests. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect, type Clients } from '../../client/connection.js';
import { startServer } from '../../server/app/start-server.js';
import type { RunningServer, ServerOptions } from '../../server/app/options.js';
import { createLogger } from '../../server/log.js';

export interface TestServer {
  server: RunningServer;
  dataDir: string;
  adminToken: string;
  admin: Clients;
  /** Clients authenticated with another token. */
  as(token: string | undefined): Clients;
  stop(): Promise<void>;
}

export async function startTestServer(opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sg-test-'));
  const server = await startServer({ addr: '127.0.0.1:0', dataDir, heartbeatMs: 0, ...opts }, createLogger(process.env.SG_LOG_LEVEL ?? 'silent'));
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const opened: Clients[] = [];
  const as = (token: string | undefined) => {
    const c = connect({ addr: server.addr, token: token ?? '' });
    opened.push(c);
    return c;
  };
  const admin = as(adminToken);
  return {
    server,
    dataDir,
    adminToken,
    admin,
    as,
    async stop() {
      for (const c of opened) c.close();
      await server.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Promise form of a unary call on a generated client. */
export function call<Req, Res>(
  client: grpc.Client,
  method: string,
  request: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, Function>)[method]!;
    fn.call(client, request, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

/** The gRPC status code name of a failed call, or 'OK'. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    const code = (e as grpc.ServiceError).code;
    if (code === undefined) throw e;
    return grpc.status[code]!;
  }
}
