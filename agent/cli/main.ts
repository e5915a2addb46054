#!/usr/bin/env node
/**
 * sg-agent entry point. Start-up time is a product requirement (`exec -- true` within 2× of
 * `node -e 0`), so this file imports only the argument parser; each command loads what it needs.
 */
import { UsageError, parseArgs } from './args.js';
import { CliError, EXIT } from '../../client/exit-codes.js';

async function main(): Promise<number> {
  let result;
  try {
    result = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sg-agent: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  if (result.kind === 'help') {
    process.stdout.write(result.text);
    return EXIT.ok;
  }
  if (result.kind === 'version') {
    process.stdout.write('sg-agent 0.1.0\n');
    return EXIT.ok;
  }
  const { parsed } = result;
  const { AgentLog } = await import('../log.js');
  const log = new AgentLog(parsed.values['log-level'] as 'info');
  try {
    switch (parsed.command.name) {
      case 'exec':
        return await (await import('./exec.js')).runExec(parsed, log);
      case 'write':
        return await (await import('./write.js')).runWrite(parsed, log);
      case 'build-args':
        return await (await import('./build-args.js')).runBuildArgs(parsed, log);
    }
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`sg-agent: ${e.message}\n`);
      return e.exitCode;
    }
    // Unexpected: the message only (errors here never carry values), no stack at info level.
    process.stderr.write(`sg-agent: ${(e as Error).message ?? String(e)}\n`);
    log.debug('unexpected error', { stack: (e as Error).stack });
    return EXIT.server;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`sg-agent: ${(e as Error)?.message ?? String(e)}\n`);
    process.exit(EXIT.server);
  },
);
