/**
 * The `sg` command tree. Commander prints help to stdout; every error, including commander's
 * own usage errors, becomes one "sg: ..." line on stderr with a documented exit status.
 *
 * Each top-level command's module is imported only when that command runs (its generated
 * code, views and client come with it): `sg project list` loads the project commands and
 * nothing else. Help, completion and unknown commands build the whole tree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { describeError, EXIT, oneLine } from './errors.js';

const ENV_HELP = `
Environment (client commands):
  SG_ADDR    server address host:port (default 127.0.0.1:50051); --addr overrides it
  SG_TOKEN   access token sent as "authorization: Bearer ..." (required)
  SG_CA      CA bundle (PEM) to verify the server; enables TLS
  SG_CERT    client certificate (PEM) for mTLS, with SG_KEY
  SG_KEY     client private key (PEM) for mTLS
Environment (sg serve): SG_DATA_DIR, SG_STORE_URI, SG_LOG_LEVEL (flags override them).

Output: human tables by default (values of secret groups, workload variables and addon
details masked unless --show-values); --json prints one JSON object for scripts carrying
every value the token may read (null where it may see keys only), with or without --show-values.
Errors: one line "sg: ..." on stderr, nothing on stdout. Exit status:
  0  success
  1  the server refused or failed the request (the gRPC status is named in the line)
  2  usage error: unknown command or flag, missing or malformed argument, unreadable file
  3  the server could not be reached
  77 no token (SG_TOKEN unset), or the server rejected it (UNAUTHENTICATED)
See docs/cli.md for the full reference.
`;

/** Set by scripts/bundle-bins.mjs in the bundle that package.json's "bin" runs. */
declare const SG_BUNDLE_VERSION: string | undefined;

function packageVersion(): string {
  if (typeof SG_BUNDLE_VERSION === 'string') return SG_BUNDLE_VERSION;
  // dist/cli or cli: the package root is a few levels up either way.
  let dir = import.meta.dirname;
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'secret-groups') return pkg.version ?? '0.0.0';
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

type Register = (program: Command) => void;

/** Top-level commands, in help order, each with the module that defines it. */
const COMMANDS: [names: string[], load: () => Promise<Register>][] = [
  [['serve'], async () => (await import('./commands/serve.js')).registerServe],
  [['migrate'], async () => (await import('./commands/migrate.js')).registerMigrate],
  [['project'], async () => (await import('./commands/project.js')).registerProject],
  [['workload'], async () => (await import('./commands/workload.js')).registerWorkload],
  [['addon'], async () => (await import('./commands/addon.js')).registerAddon],
  [['group'], async () => (await import('./commands/group.js')).registerGroup],
  [['resolve'], async () => (await import('./commands/resolve.js')).registerResolve],
  [['token', 'role', 'whoami'], async () => (await import('./commands/access.js')).registerAccess],
  [['audit'], async () => (await import('./commands/audit.js')).registerAudit],
  [['k8s-injector'], async () => (await import('./commands/k8s-injector.js')).registerK8sInjector],
  [['admin'], async () => (await import('./commands/admin.js')).registerAdmin],
  [['completion'], async () => (await import('./commands/completion.js')).registerCompletion],
];

/**
 * The program for `args`: only the named top-level command when there is one (and it needs
 * no view of the others), else every command. Without `args`, every command.
 */
export async function buildProgram(args?: readonly string[]): Promise<Command> {
  const first = args?.find((a) => !a.startsWith('-'));
  const one = first === 'completion' || first === 'help' ? undefined : COMMANDS.find(([names]) => names.includes(first ?? ''));
  const registers = await Promise.all((one ? [one] : COMMANDS).map(([, load]) => load()));
  return commandTree(registers);
}

function commandTree(registers: Register[]): Command {
  const program = new Command('sg');
  // Configured before subcommands are added: commander copies these settings into each one.
  program
    .description('secret-groups admin CLI: run the server (sg serve) and manage projects, workloads, addons, groups and tokens')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for the command')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => void process.stdout.write(text),
      // Our own single error line replaces commander's messages and error-help.
      writeErr: () => undefined,
      outputError: () => undefined,
    })
    .addHelpText('after', ENV_HELP);

  for (const register of registers) register(program);
  return program;
}

/** The chain of commands named in argv, e.g. ['sg', 'group', 'file']. */
export function commandPath(program: Command, args: readonly string[]): Command[] {
  const path = [program];
  for (const arg of args) {
    if (arg.startsWith('-')) continue;
    const current = path[path.length - 1]!;
    const sub = current.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    path.push(sub);
  }
  return path;
}

/** Runs one invocation; returns the exit status. `args` excludes "node" and the script. */
export async function run(args: string[]): Promise<number> {
  const program = await buildProgram(args);
  try {
    await program.parseAsync(args, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      process.stderr.write(`sg: ${commanderMessage(program, args, err)}\n`);
      return EXIT.usage;
    }
    const { message, exitCode } = describeError(err);
    process.stderr.write(`sg: ${message}\n`);
    return exitCode;
  }
}

function commanderMessage(program: Command, args: readonly string[], err: CommanderError): string {
  if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync') {
    // A command group given without its subcommand.
    const path = commandPath(program, args);
    const cmd = path[path.length - 1]!;
    const name = path.map((c) => c.name()).join(' ');
    const subs = cmd.commands.map((c) => c.name()).filter((n) => n !== 'help');
    return `'${name}' needs a command (${subs.join(', ')}); see '${name} --help'`;
  }
  return oneLine(err.message.replace(/^error: /, ''));
}
