/**
 * Where a client connects and with what credentials, from options or SG_* variables. Shared by
 * the grpc-js clients (connection.ts) and the agent's light transport (transport.ts); kept free
 * of grpc-js so that the agent does not load it.
 */
export const DEFAULT_ADDR = '127.0.0.1:50051';

export interface Endpoint {
  /** host:port; defaults to SG_ADDR, then 127.0.0.1:50051. */
  addr?: string;
  /** Bearer token; defaults to SG_TOKEN. */
  token?: string;
  /** PEM CA bundle path to verify the server (enables TLS); defaults to SG_CA. */
  ca?: string;
  /** Client certificate and key paths for mTLS; default SG_CERT / SG_KEY. */
  cert?: string;
  key?: string;
}

export function resolveEndpoint<T extends Endpoint>(opts: T, env: NodeJS.ProcessEnv = process.env): T & { addr: string } {
  return {
    ...opts,
    addr: opts.addr || env.SG_ADDR || DEFAULT_ADDR,
    token: opts.token ?? env.SG_TOKEN,
    ca: opts.ca ?? env.SG_CA,
    cert: opts.cert ?? env.SG_CERT,
    key: opts.key ?? env.SG_KEY,
  };
}
