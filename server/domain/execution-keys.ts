/**
 * Execution-controlling variables: names that make a program load, run or trace code other than
 * its own (a search path, a preloaded library, an interpreter option, a shell start-up file).
 * Setting one in a workload's environment is as strong as changing its code, so a change to
 * one, in a group of either type, needs write access to secret groups (SECURITY.md
 * "Execution-controlling keys and files"). Everything else stays an ordinary config key.
 *
 * Sources: sudo's env_reset list (plugins/sudoers/env.c, initial_badenv_table), glibc's list
 * of variables removed for set-uid programs (unsecvars.h), and each runtime's documentation.
 * Names are matched exactly (POSIX names are case-sensitive); Windows names, which are not,
 * are matched in any case.
 */

/** Exact names. */
const NAMES: readonly string[] = [
  // Program and library search, character-set and locale modules (glibc unsecvars, sudo)
  'PATH', 'IFS', 'CDPATH', 'GCONV_PATH', 'NLSPATH', 'PATH_LOCALE', 'LOCPATH', 'LIBPATH', 'SHLIB_PATH',
  // Shells: start-up files, trace prompts, options, function paths (bash, ksh, zsh)
  'ENV', 'BASH_ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'GLOBIGNORE', 'FPATH',
  'ZDOTDIR', 'NULLCMD', 'READNULLCMD', 'TMPPREFIX', 'SHELL',
  // Node.js
  'NODE_OPTIONS', 'NODE_PATH', 'NODE_REPL_EXTERNAL_MODULE',
  // Python (PYTHONWARNINGS and PYTHONBREAKPOINT import modules by name)
  'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONINSPECT', 'PYTHONUSERBASE', 'PYTHONEXECUTABLE',
  'PYTHONWARNINGS', 'PYTHONBREAKPOINT', 'PYTHONPLATLIBDIR', 'PYTHONSAFEPATH',
  // JVM
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'JAVA_OPTS', 'CLASSPATH', 'JAVA_HOME',
  'CATALINA_OPTS', 'MAVEN_OPTS', 'GRADLE_OPTS',
  // Perl, Ruby, PHP, Lua, Tcl
  'PERL5OPT', 'PERL5LIB', 'PERLLIB', 'PERL5DB', 'PERLIO_DEBUG',
  'RUBYOPT', 'RUBYLIB', 'GEM_PATH', 'GEM_HOME',
  'PHPRC', 'PHP_INI_SCAN_DIR',
  'LUA_PATH', 'LUA_CPATH', 'LUA_INIT', 'TCLLIBPATH',
  // Go, .NET
  'GOFLAGS', 'GOPATH', 'GOROOT', 'GOPROXY', 'GONOSUMDB', 'GONOSUMCHECK', 'GOINSECURE', 'GOPRIVATE', 'GONOPROXY',
  'DOTNET_STARTUP_HOOKS', 'DOTNET_ADDITIONAL_DEPS',
  // Compilers and build tools (build arguments run at build time)
  'CC', 'CXX', 'CPP', 'LD', 'MAKEFLAGS', 'RUSTC', 'RUSTC_WRAPPER', 'RUSTFLAGS',
  // Commands other programs run on the workload's behalf
  'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'GIT_ASKPASS', 'GIT_EDITOR', 'GIT_PAGER', 'GIT_EXTERNAL_DIFF',
  'GIT_PROXY_COMMAND', 'GIT_TEMPLATE_DIR', 'SSH_ASKPASS', 'EDITOR', 'VISUAL', 'PAGER', 'BROWSER', 'LESSOPEN', 'LESSCLOSE',
  // Where programs look for their start-up configuration (git's core.sshCommand, .npmrc, …)
  'HOME', 'XDG_CONFIG_HOME',
  // Files parsed by libraries at start-up (sudo's list)
  'OPENSSL_CONF', 'OPENSSL_ENGINES', 'TERMINFO', 'TERMINFO_DIRS', 'TERMPATH', 'TERMCAP', 'KRB5_CONFIG', 'KRB5_KTNAME',
];

/** Prefixes: every name that starts with one of these. */
const PREFIXES: readonly string[] = [
  'LD_', // LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, … (glibc, musl, Solaris)
  'DYLD_', // macOS loader
  '_RLD', // IRIX loader (sudo's list)
  'LDR_', // AIX loader
  'GIT_CONFIG', // GIT_CONFIG, GIT_CONFIG_GLOBAL, GIT_CONFIG_KEY_n/VALUE_n inject git configuration (core.sshCommand …)
  'BASH_FUNC_', // exported bash functions
  'CORECLR_', // .NET profilers (CORECLR_PROFILER_PATH …)
  'COR_', // .NET Framework profilers
  // Package managers: where dependencies are fetched from and which scripts run (build time)
  'PIP_',
  'YARN_',
  'BUNDLE_',
  'CARGO_',
];

/** npm reads `npm_config_*` in any case. */
const ANY_CASE_PREFIXES: readonly string[] = ['npm_config_'];

/** Windows resolves these case-insensitively (Path, PathExt, ComSpec). */
const WINDOWS_NAMES: readonly string[] = ['PATH', 'PATHEXT', 'COMSPEC', 'PSMODULEPATH'];

const exact = new Set(NAMES);
const windows = new Set(WINDOWS_NAMES);

/** Whether a variable name controls what a workload executes. */
export function isExecutionKey(key: string): boolean {
  if (exact.has(key) || windows.has(key.toUpperCase())) return true;
  if (PREFIXES.some((p) => key.startsWith(p))) return true;
  const lower = key.toLowerCase();
  return ANY_CASE_PREFIXES.some((p) => lower.startsWith(p));
}

/** The lists, for documentation and tests. */
export const EXECUTION_KEYS = { names: NAMES, prefixes: PREFIXES, anyCasePrefixes: ANY_CASE_PREFIXES, windowsNames: WINDOWS_NAMES } as const;
