/**
 * The per-resource commands whose logic is the same for addons, workloads and groups: `get` (one
 * read, printed as JSON or the human view), `list` (a project's items: a table without values, or
 * JSON with every value the token may read) and `delete` (by name, with --expected-revision).
 * A resource's module says only what differs: its noun, the RPC and the views.
 */
import type { Command } from 'commander';
import { withSession, type ConnectionFlags, type Session } from './client.js';
import { emit, expectedRevision, NO_TABLE_VALUES, withAddr, withExpectedRevision, withJson } from './kit.js';

export interface ReadFlags extends ConnectionFlags {
  json?: boolean;
  showValues?: boolean;
}

/** The flags of a command that changes a resource. */
export interface WriteFlags extends ReadFlags {
  expectedRevision?: string;
}

/** `<noun> get <project> <name>`. */
export function getCommand<R>(
  parent: Command,
  spec: {
    noun: string;
    description: string;
    /** The name argument's placeholder: `name` unless given. */
    arg?: string;
    /** Help of --show-values. */
    showValues: string;
    /** What --json prints ("the result" unless given). */
    jsonWhat?: string;
    get(s: Session, project: string, name: string): Promise<R>;
    print(opts: ReadFlags, res: R): void;
  },
): void {
  withJson(
    withAddr(
      parent
        .command('get')
        .description(spec.description)
        .argument('<project>', 'project name')
        .argument(`<${spec.arg ?? 'name'}>`, `${spec.noun} name`)
        .option('--show-values', spec.showValues),
    ),
    spec.jsonWhat,
  ).action((project: string, name: string, opts: ReadFlags) => withSession(opts, async (s) => spec.print(opts, await spec.get(s, project, name))));
}

/** `<noun> list <project>`: `{ <plural>: [...] }` as JSON, else the table (which shows no values). */
export function listCommand<T>(
  parent: Command,
  spec: { plural: string; list(s: Session, project: string): Promise<T[]>; json(item: T): unknown; table(items: T[]): string },
): void {
  withJson(
    withAddr(
      parent
        .command('list')
        .description(`list a project's ${spec.plural} (the table shows no values; --json carries the values the token may read)`)
        .argument('<project>', 'project name')
        .option('--show-values', NO_TABLE_VALUES),
    ),
    'the list',
  ).action((project: string, opts: ReadFlags) =>
    withSession(opts, async (s) => {
      const items = await spec.list(s, project);
      emit(opts, () => ({ [spec.plural]: items.map((x) => spec.json(x)) }), () => spec.table(items));
    }),
  );
}

export interface DeleteTarget {
  project: string;
  name: string;
  expectedRevision: number;
}

/** `<noun> delete <project> <name>`: `{ deleted: true, project, <noun>: name }` as JSON. */
export function deleteCommand(parent: Command, spec: { noun: string; description: string; remove(s: Session, target: DeleteTarget): Promise<unknown> }): void {
  withJson(
    withExpectedRevision(
      withAddr(parent.command('delete').description(spec.description).argument('<project>', 'project name').argument('<name>', `${spec.noun} name`)),
    ),
  ).action((project: string, name: string, opts: WriteFlags) => {
    const target = { project, name, expectedRevision: expectedRevision(opts) };
    return withSession(opts, async (s) => {
      await spec.remove(s, target);
      emit(opts, () => ({ deleted: true, project, [spec.noun]: name }), () => `Deleted ${spec.noun} ${project}/${name}\n`);
    });
  });
}
