/**
 * How an app container starts with the variables in its environment: its command becomes
 * `/bin/sh -c SCRIPT ORIGINAL-COMMAND ORIGINAL-ARGS...`, where SCRIPT sources the agent's
 * shell-format file (`export KEY='value'` lines, nothing inside ever expanded) and then runs
 * the original program as `"$0" "$@"`. The image needs a POSIX `/bin/sh`; files mode is for
 * images without one.
 *
 * The scripts never contain `$(`: the kubelet expands `$(NAME)` in command and args, and the
 * original command's own `$(NAME)` references are kept as they were, in args.
 */
import type { Container } from 'kubernetes-types/core/v1.js';

/** Mount path of the shared in-memory volume in the agent and in the wrapped containers. */
export const SHARED_DIR = '/run/secret-groups';
/** The variables, in the agent's `shell` format. */
export const ENV_FILE = `${SHARED_DIR}/env`;
/** Secret files go under this root: `/etc/tls/key.pem` is `/run/secret-groups/files/etc/tls/key.pem`. */
export const FILES_DIR = `${SHARED_DIR}/files`;

/** How often the restart wrapper compares the file with what the program started with. */
export const RESTART_POLL_SECONDS = 5;

const UNREADABLE =
  `if [ ! -r ${ENV_FILE} ]; then ` +
  `echo "secret-groups: cannot read ${ENV_FILE}: run this container as the agent's user (set runAsUser on the pod, see docs/kubernetes.md)" >&2; exit 1; fi`;

/** Sources the variables, then replaces the shell with the original program. */
export const ENV_WRAPPER = `${UNREADABLE}; . ${ENV_FILE}; exec "$0" "$@"`;

/**
 * Sources the variables, runs the original program as a child, forwards SIGTERM/SIGINT to
 * it, and every few seconds compares the file's checksum with the one it started from; on a
 * change it stops the program, so the container exits and the kubelet starts it again (with
 * its usual back-off) on the new values. Exits with the program's status.
 */
export const RESTART_WRAPPER = [
  UNREADABLE,
  `s=\`cksum < ${ENV_FILE}\``,
  `. ${ENV_FILE}`,
  '"$0" "$@" &',
  'c=$!',
  `trap 'kill -TERM "$c" 2>/dev/null' TERM INT`,
  'while kill -0 "$c" 2>/dev/null; do',
  `  sleep ${RESTART_POLL_SECONDS} & wait $!`,
  `  if kill -0 "$c" 2>/dev/null && [ "\`cksum < ${ENV_FILE}\`" != "$s" ]; then`,
  '    echo "secret-groups: the variables changed; stopping the program so that the container restarts" >&2',
  '    kill -TERM "$c" 2>/dev/null; s=stopped',
  '  fi',
  'done',
  'wait "$c"',
].join('\n');

/**
 * The container with its command wrapped; `command` must be set (the image's ENTRYPOINT is
 * not visible to the webhook). The original command and args move to args unchanged.
 */
export function wrapCommand(c: Container, restart: boolean): void {
  const original = [...(c.command ?? []), ...(c.args ?? [])];
  c.command = ['/bin/sh', '-c', restart ? RESTART_WRAPPER : ENV_WRAPPER];
  c.args = original;
}
