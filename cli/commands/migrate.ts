/**
 * `sg migrate --from DATA --to mongodb://…`: copies a whole embedded installation into an empty
 * MongoDB store, values still sealed, and verifies the copy. Progress goes to stderr, the
 * summary to stdout (or --json); neither ever contains a value, a key or the URI. The store
 * code is imported lazily, as for `sg serve`, so other commands never load it.
 */
import type { Command } from 'commander';
import { DomainError } from '../../server/domain/errors.js';
import { CliError, EXIT, usage } from '../errors.js';
import { json } from '../output.js';

interface Opts {
  from?: string;
  to?: string;
  masterKeyFile?: string;
  json?: boolean;
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('move an embedded installation (sg serve --data DIR) into an empty MongoDB store; values stay encrypted')
    .option('--from <dir>', 'data directory of the embedded installation (holds sg.db)')
    .option('--to <uri>', 'mongodb://... URI of the target; its database must be empty')
    .option('--master-key-file <file>', 'the installation\'s master key (default: $SG_MASTER_KEY, else FROM/master.key)')
    .option('--json', 'print the summary as one JSON object')
    .addHelpText(
      'after',
      '\nStop every `sg serve` using the data directory first. The source is only read.\n' +
        'Everything is copied as stored (ciphertexts and wrapped data keys) and then verified record by record,\n' +
        'raw and decrypted in memory with the master key; no value is ever printed.\n' +
        'If interrupted, the target is left marked "migration in progress" and a rerun refuses it:\n' +
        'drop the target database and run sg migrate again.\n' +
        'Afterwards start the replicas with --store URI and the same master key (SG_MASTER_KEY); existing tokens keep working.',
    )
    .action(async (opts: Opts) => {
      if (!opts.from) throw usage('--from DATA_DIR is required');
      if (!opts.to) throw usage('--to mongodb://... is required');
      if (!/^mongodb(\+srv)?:\/\//.test(opts.to)) throw usage('--to must be a mongodb:// or mongodb+srv:// URI');
      const { migrate } = await import('../../server/store/migrate.js');
      let report;
      try {
        report = await migrate({
          from: opts.from,
          to: opts.to,
          ...(opts.masterKeyFile ? { masterKeyFile: opts.masterKeyFile } : {}),
          progress: (line) => void process.stderr.write(`sg migrate: ${line}\n`),
        });
      } catch (e) {
        throw asCliError(e);
      }
      if (opts.json) {
        process.stdout.write(json(report));
        return;
      }
      const keyHint =
        report.masterKey.source === 'file'
          ? `the master key in ${report.masterKey.path} (give its content to every replica as SG_MASTER_KEY)`
          : 'the same SG_MASTER_KEY';
      process.stdout.write(
        `Migrated into database ${report.database} and verified:\n` +
          `  projects ${report.projects}, workloads ${report.workloads}, addons ${report.addons}, ` +
          `groups ${report.groups} (+${report.deletedGroups} deleted with history), history entries ${report.historyEntries}\n` +
          `  tokens ${report.tokens}, audit events ${report.auditEvents}, meta entries ${report.metaEntries}\n` +
          `Next: start sg serve --store <the same URI> with ${keyHint} (key id ${report.masterKey.id}).\n` +
          'Existing tokens, including the admin token, keep working. Keep the data directory as a backup until you are satisfied.\n',
      );
    });
}

/** Store refusals keep their message; the exit status says what kind of failure it was. */
function asCliError(e: unknown): unknown {
  if (!(e instanceof DomainError)) return e;
  switch (e.code) {
    case 'UNAVAILABLE':
      return new CliError(e.message, EXIT.unreachable);
    case 'INVALID_ARGUMENT':
      return new CliError(e.message, EXIT.usage);
    default:
      return new CliError(e.message, EXIT.server);
  }
}
