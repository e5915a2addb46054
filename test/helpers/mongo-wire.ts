/**
 * A loopback TCP proxy in front of a MongoDB-protocol server that records every command a
 * client sends (OP_MSG), so tests can count a store's round trips on the wire — whatever the
 * code above it does — and see which filters its queries use.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { BSON } from 'mongodb';

export interface WireCommand {
  /** The command name: find, insert, update, aggregate, … */
  name: string;
  collection: string;
  /** The filter of a find (or the q of an update/delete), if any. */
  filter?: Record<string, unknown>;
  /** Documents the command carries (an insert's records, an update's or delete's statements). */
  documents?: number;
  /** An insert's records. */
  inserted?: Record<string, unknown>[];
  /** Time to the server's reply, once it came. */
  ms?: number;
}

/** Driver housekeeping, not store work. */
const HOUSEKEEPING = new Set(['hello', 'ismaster', 'isMaster', 'ping', 'endSessions', 'buildInfo', 'saslStart', 'saslContinue']);

export interface WireCounter {
  /** mongodb://… through the proxy (no database name). */
  uri: string;
  /** Store commands since the last reset (housekeeping excluded). */
  commands: WireCommand[];
  reset(): void;
  /**
   * Holds every reply for `ms` before passing it on (0: none), as a slower database would:
   * tests of batching then do not depend on how fast a loaded machine gets requests out.
   */
  delayReplies(ms: number): void;
  close(): Promise<void>;
}

const OP_MSG = 2013;

/** Starts the proxy in front of `upstreamUri` (mongodb://host:port/…). */
export async function startWireCounter(upstreamUri: string): Promise<WireCounter> {
  const m = /^mongodb:\/\/([^/:]+):(\d+)/.exec(upstreamUri);
  if (!m) throw new Error('startWireCounter needs a mongodb://host:port URI');
  const [host, port] = [m[1]!, Number(m[2])];
  const counter = { commands: [] as WireCommand[], delayMs: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let replies = Buffer.alloc(0);
    const waiting = new Map<number, { cmd: WireCommand; at: number }>();
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 16) {
        const len = pending.readInt32LE(0);
        if (pending.length < len) break;
        const frame = pending.subarray(0, len);
        pending = pending.subarray(len);
        const cmd = parse(frame);
        if (cmd && !HOUSEKEEPING.has(cmd.name)) {
          counter.commands.push(cmd);
          waiting.set(frame.readInt32LE(4), { cmd, at: performance.now() });
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      replies = Buffer.concat([replies, chunk]);
      while (replies.length >= 16 && replies.length >= replies.readInt32LE(0)) {
        const w = waiting.get(replies.readInt32LE(8)); // responseTo
        if (w) {
          w.cmd.ms = performance.now() - w.at;
          waiting.delete(replies.readInt32LE(8));
        }
        replies = replies.subarray(replies.readInt32LE(0));
      }
      // Equal delays fire in order, so replies keep their order on the connection.
      if (counter.delayMs > 0) setTimeout(() => client.writable && client.write(chunk), counter.delayMs);
      else client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('proxy did not bind');
  return {
    uri: `mongodb://127.0.0.1:${addr.port}/`,
    get commands() {
      return counter.commands;
    },
    reset() {
      counter.commands = [];
    },
    delayReplies(ms: number) {
      counter.delayMs = ms;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The command of an OP_MSG frame (body section, kind 0) with the number of documents it
 * carries (in the body or in kind 1 document sequences), or null for other opcodes.
 */
function parse(frame: Buffer): WireCommand | null {
  if (frame.readInt32LE(12) !== OP_MSG) return null;
  let off = 20; // header (16) + flagBits (4)
  let command: WireCommand | null = null;
  let sequenced = 0;
  const inserted: Record<string, unknown>[] = [];
  while (off < frame.length) {
    const kind = frame[off]!;
    off += 1;
    const size = frame.readInt32LE(off);
    if (kind === 0) {
      const doc = BSON.deserialize(frame.subarray(off, off + size)) as Record<string, unknown>;
      const name = Object.keys(doc)[0]!;
      const collection = String(doc[name]);
      let filter = doc.filter as Record<string, unknown> | undefined;
      const updates = (doc.updates ?? doc.deletes) as { q?: Record<string, unknown> }[] | undefined;
      if (!filter && updates?.length === 1) filter = updates[0]!.q;
      const inline = Array.isArray(doc.documents) ? doc.documents.length : (updates?.length ?? 0);
      if (Array.isArray(doc.documents)) inserted.push(...(doc.documents as Record<string, unknown>[]));
      command = { name, collection, ...(filter ? { filter } : {}), documents: inline };
    } else {
      // A document sequence: its size (including itself), an identifier, then documents.
      let at = frame.indexOf(0, off + 4) + 1;
      while (at < off + size) {
        const len = frame.readInt32LE(at);
        inserted.push(BSON.deserialize(frame.subarray(at, at + len)) as Record<string, unknown>);
        at += len;
        sequenced++;
      }
    }
    off += size;
  }
  if (command) {
    command.documents = (command.documents ?? 0) + sequenced;
    if (command.name === 'insert') command.inserted = inserted;
  }
  return command;
}
