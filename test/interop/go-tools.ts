/**
 * Finds the Go-built gRPC tools (grpcurl, grpc-health-probe) the interop tests drive the server
 * with, the way the FerretDB harness finds ferretdb: $<NAME>_BIN, PATH, $(go env GOPATH)/bin,
 * ~/go/bin. `.ci/install-go-tools.sh` installs them.
 *
 * A missing tool fails the suite under CI=true and is reported as skipped (with the reason)
 * elsewhere — never as passing.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';

export type Tool = 'grpcurl' | 'grpc-health-probe';

const INSTALL_HINT = 'run `bash .ci/install-go-tools.sh` (needs Go)';

let gopathBin: string | null | undefined;

function goBinDir(): string | null {
  if (gopathBin !== undefined) return gopathBin;
  const r = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8', timeout: 10_000 });
  return (gopathBin = r.status === 0 && r.stdout.trim() ? join(r.stdout.trim().split(delimiter)[0]!, 'bin') : null);
}

/** The tool's path, or why there is none. */
export function findTool(name: Tool): { binary: string } | { reason: string } {
  const envName = `${name.toUpperCase().replace(/-/g, '_')}_BIN`;
  const candidates: string[] = [];
  const fromEnv = process.env[envName];
  if (fromEnv) candidates.push(fromEnv);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, name));
  const gobin = goBinDir();
  if (gobin) candidates.push(join(gobin, name));
  candidates.push(join(homedir(), 'go', 'bin', name));
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    // Both tools print their usage on -help; a binary that cannot start at all (wrong
    // architecture, truncated) prints nothing.
    const probe = spawnSync(c, ['-help'], { encoding: 'utf8', timeout: 10_000 });
    if (`${probe.stdout}${probe.stderr}`.includes('Usage')) return { binary: c };
  }
  return { reason: `no working ${name} binary (looked at $${envName}, PATH, $(go env GOPATH)/bin, ~/go/bin); ${INSTALL_HINT}` };
}

/**
 * Declares `body` as a describe block when every tool is available, passing their paths.
 * Otherwise: under CI=true one failing test carrying the reason; elsewhere a skipped block.
 */
export function describeWithTools(name: string, tools: Tool[], body: (bins: Record<Tool, string>) => void): void {
  const bins = {} as Record<Tool, string>;
  const missing: string[] = [];
  for (const t of tools) {
    const found = findTool(t);
    if ('binary' in found) bins[t] = found.binary;
    else missing.push(found.reason);
  }
  if (missing.length === 0) {
    describe(name, () => body(bins));
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it(`has ${tools.join(' and ')} to test with`, () => {
        throw new Error(`CI=true requires ${tools.join(' and ')}: ${missing.join('; ')}`);
      });
    });
  } else {
    const reason = missing.join('; ');
    console.warn(`[${name}] skipped: ${reason}`);
    describe.skip(`${name} (skipped: ${reason})`, () => body(bins));
  }
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool to completion; never rejects on a non-zero exit (the tests assert on it). */
export function runTool(binary: string, args: string[], timeoutMs = 20_000): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(new Error(`${binary} ${args.join(' ')}: ${err.message}\n${stderr}`));
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}
