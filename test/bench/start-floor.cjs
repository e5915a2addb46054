'use strict';
/**
 * The floor of the two start-up bars: what any Node 20 gRPC client over node:http2 must do for
 * the two measured commands, and nothing more. The bench times it beside them, interleaved, so
 * "ratio to `node -e 0`" can be read against what the platform alone costs (docs/performance.md,
 * "Start-up floors"):
 *
 *   node start-floor.cjs exec PROJECT WORKLOAD -- CMD [ARGS...]
 *     connect, Watch the workload, read the first resolution's variables, start CMD with them
 *     in its environment, wait for it, exit with its status (as `sg-agent exec`);
 *   node start-floor.cjs list
 *     connect, ListProjects, print a NAME / CREATED table (as `sg project list`).
 *
 * SG_ADDR and SG_TOKEN as for the bins; plaintext only (the bench runs no TLS). No retries,
 * timeouts, redaction, caches or checks beyond the gRPC status: a lower bound, not a client.
 * CommonJS like the bins (dist/bin/*.cjs): an ES module would add the ES module loader's start.
 * Exits 3 when the reply carried nothing (no variables / no projects): a floor that skipped the
 * work would be no floor.
 */
const http2 = require('node:http2');
const { spawn } = require('node:child_process');

/** Length-delimited protobuf fields: [tag, string] pairs → bytes. */
function encode(fields) {
  const parts = [];
  for (const [field, text] of fields) {
    const b = Buffer.from(text);
    parts.push(Buffer.from([(field << 3) | 2, b.length]), b); // names here are < 128 bytes
  }
  return Buffer.concat(parts);
}

/** The fields of one message: calls visit(field, start, end) for length-delimited ones, (field, value) for varints. */
function walk(buf, start, end, visit) {
  let i = start;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[i++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (i < end) {
    const key = varint();
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) visit(field, varint());
    else if (wire === 2) {
      const len = varint();
      visit(field, i, i + len);
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

/** One call: resolves with the first whole reply message once it arrives; rejects on a gRPC error. */
function call(session, path, body, { endOnFirst }) {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${process.env.SG_TOKEN}`,
    });
    const header = Buffer.alloc(5);
    header.writeUInt32BE(body.length, 1);
    req.end(Buffer.concat([header, body]));
    let data = Buffer.alloc(0);
    let message;
    const status = (h) => {
      const code = h['grpc-status'];
      if (code !== undefined && code !== '0') reject(new Error(`grpc-status ${code}: ${h['grpc-message'] ?? ''}`));
    };
    req.on('response', status);
    req.on('trailers', (t) => {
      status(t);
      if (message) resolve({ message, req });
      else reject(new Error('no reply message'));
    });
    req.on('data', (chunk) => {
      if (message) return;
      data = Buffer.concat([data, chunk]);
      if (data.length < 5) return;
      const len = data.readUInt32BE(1);
      if (data.length < 5 + len) return;
      message = data.subarray(5, 5 + len);
      if (endOnFirst) resolve({ message, req });
    });
    req.on('error', reject);
  });
}

async function exec(session, project, workload, command, args) {
  const { message, req } = await call(session, '/secretgroups.v1.ResolverService/Watch', encode([[1, project], [2, workload]]), { endOnFirst: true });
  const env = { ...process.env };
  delete env.SG_TOKEN;
  let count = 0;
  // WatchResponse.resolution (1) → Resolution.variables (4) → map entry key (1), value (2).
  walk(message, 0, message.length, (f, s, e) => {
    if (f !== 1) return;
    walk(message, s, e, (g, vs, ve) => {
      if (g !== 4) return;
      let key = '';
      let value = '';
      walk(message, vs, ve, (h, a, b) => {
        if (h === 1) key = message.toString('utf8', a, b);
        else if (h === 2) value = message.toString('utf8', a, b);
      });
      env[key] = value;
      count++;
    });
  });
  if (!count) return 3;
  const child = spawn(command, args, { stdio: 'inherit', env });
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  req.close(http2.constants.NGHTTP2_CANCEL);
  return code;
}

async function list(session) {
  const { message } = await call(session, '/secretgroups.v1.ProjectService/ListProjects', Buffer.alloc(0), { endOnFirst: false });
  const rows = [['NAME', 'CREATED']];
  // ListProjectsResponse.projects (1) → Project.name (1), created_at_ms (2).
  walk(message, 0, message.length, (f, s, e) => {
    if (f !== 1) return;
    let name = '';
    let created = 0;
    walk(message, s, e, (g, a, b) => {
      if (g === 1) name = message.toString('utf8', a, b);
      else if (g === 2) created = a;
    });
    rows.push([name, new Date(created).toISOString().replace(/\.\d{3}Z$/, 'Z')]);
  });
  if (rows.length === 1) return 3;
  const width = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(rows.map((r) => `${r[0].padEnd(width)}  ${r[1]}`).join('\n') + '\n');
  return 0;
}

const [mode, ...rest] = process.argv.slice(2);
const session = http2.connect(`http://${process.env.SG_ADDR}`);
session.on('error', () => undefined);
const run =
  mode === 'exec' && rest[2] === '--'
    ? exec(session, rest[0], rest[1], rest[3], rest.slice(4))
    : mode === 'list'
      ? list(session)
      : Promise.reject(new Error('usage: start-floor.cjs exec PROJECT WORKLOAD -- CMD [ARGS...] | list'));
run.then(
  (code) => {
    session.close();
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`start-floor: ${e.message}\n`);
    session.destroy();
    process.exitCode = 1;
  },
);
