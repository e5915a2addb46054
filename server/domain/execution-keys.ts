/**
 * Execution-controlling variables: names that make a program load, run or trace code other than
 * its own, or send its traffic (and so its credentials) elsewhere. Setting one in a workload's
 * environment or build is as strong as changing its code, so a change to one, in a group of
 * either type, needs write access to secret groups (SECURITY.md "Execution-controlling keys
 * and files"). Everything else stays an ordinary config key.
 *
 * The policy is a table of FAMILIES, each with the tool documentation it comes from. Families
 * prefer patterns to names, so that a new flag of a known family (a new `*FLAGS`, a new
 * `CCACHE_*` setting) is caught without anyone remembering to add it. A pattern is `NAME`,
 * `PREFIX*`, `*SUFFIX` or `PREFIX*SUFFIX`; POSIX names are case-sensitive, so patterns match
 * exactly unless the family lists them under `anyCase` (names its tools read in any case).
 * SECURITY.md's table of families is generated from this one (scripts/gen-execution-keys-doc.mjs
 * checks it, test/unit/execution-keys.test.ts runs the check).
 *
 * A project can add its own names and prefixes (Project.executionKeys, see project-policy.ts).
 */

export interface ExecutionKeyFamily {
  /** Short stable name, shown in refusals. */
  id: string;
  /** Why whoever sets one of these runs code in (or reads the traffic of) the workload. */
  rationale: string;
  /** The documentation each pattern comes from. */
  sources: string;
  /** Case-sensitive patterns. */
  patterns: readonly string[];
  /** Patterns matched in any case. */
  anyCase?: readonly string[];
}

export const FAMILIES: readonly ExecutionKeyFamily[] = [
  {
    id: 'loader',
    rationale: 'the dynamic loader preloads, audits or searches libraries named here; glibc also reads its tuning, character-set modules and message catalogues from them',
    sources: 'ld.so(8); glibc sysdeps/generic/unsecvars.h; dyld(1); sudo plugins/sudoers/env.c initial_badenv_table',
    patterns: ['LD_*', 'DYLD_*', '_RLD*', 'LDR_*', 'LIBPATH', 'SHLIB_PATH', 'GCONV_PATH', 'GETCONF_DIR', 'GLIBC_TUNABLES', 'LOCPATH', 'NLSPATH', 'PATH_LOCALE', 'MALLOC_TRACE'],
  },
  {
    id: 'resolver',
    rationale: 'name resolution: these redirect host names (and so connections and their credentials) without touching /etc/hosts or resolv.conf',
    sources: 'resolv.conf(5) "ENVIRONMENT" (LOCALDOMAIN, RES_OPTIONS); hostname(7) (HOSTALIASES); glibc unsecvars.h (RESOLV_HOST_CONF, NIS_PATH)',
    patterns: ['LOCALDOMAIN', 'RES_OPTIONS', 'HOSTALIASES', 'RESOLV_*', 'NIS_PATH'],
  },
  {
    id: 'search path',
    rationale: 'where programs are looked up: whoever sets it chooses which binary runs',
    sources: 'POSIX XBD 8.3 "Other Environment Variables" (PATH, IFS); bash(1) (CDPATH); Windows: cmd.exe and PowerShell docs (PATHEXT, COMSPEC, PSModulePath)',
    patterns: ['IFS', 'CDPATH'],
    anyCase: ['PATH', 'PATHEXT', 'COMSPEC', 'PSMODULEPATH'],
  },
  {
    id: 'shell',
    rationale: 'shells source start-up files, run hooks and import functions named in these',
    sources: 'bash(1) "INVOCATION" and "Shell Variables"; ksh(1); zsh "Startup Files"; sudo env.c',
    patterns: ['ENV', 'BASH_ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'GLOBIGNORE', 'FPATH', 'ZDOTDIR', 'NULLCMD', 'READNULLCMD', 'TMPPREFIX', 'SHELL', 'BASH_FUNC_*'],
  },
  {
    id: 'interpreter options',
    rationale: 'runtimes read extra command-line options from these; options such as --require, -javaagent, -eval or -r load and run code',
    sources: 'Node.js "Command-line API: NODE_OPTIONS"; JVM "JAVA_TOOL_OPTIONS" (JVMTI) and java(1) JDK_JAVA_OPTIONS; Erlang erl(1) ERL_AFLAGS/ERL_ZFLAGS/ERL_FLAGS; Elixir "elixir --help" ELIXIR_ERL_OPTIONS; perlrun(1) PERL5OPT; ruby(1) RUBYOPT',
    patterns: ['*_OPTIONS', '*_OPTS', 'ERL_*', 'PERL5OPT', 'RUBYOPT', 'PERL5DB', 'PERLIO_DEBUG', 'PHPRC', 'PHP_INI_SCAN_DIR', 'LUA_INIT*', 'PYTHONSTARTUP', 'PYTHONINSPECT', 'PYTHONWARNINGS', 'PYTHONBREAKPOINT', 'NODE_REPL_EXTERNAL_MODULE', 'DOTNET_STARTUP_HOOKS', 'DOTNET_ADDITIONAL_DEPS', 'CORECLR_*', 'COR_*'],
  },
  {
    id: 'module path',
    rationale: 'where a runtime finds its modules or its own installation: whoever sets it supplies the code that is imported',
    sources: 'Node.js "Modules: NODE_PATH"; python(1) "ENVIRONMENT VARIABLES"; java(1) CLASSPATH; perlrun(1) PERL5LIB; ruby(1) RUBYLIB; RubyGems GEM_PATH/GEM_HOME; Lua manual LUA_PATH/LUA_CPATH; Tcl TCLLIBPATH; "go help environment"; R "Startup" (R_PROFILE_USER, R_ENVIRON_USER, R_LIBS_USER); Julia manual "Environment Variables" (JULIA_LOAD_PATH, JULIA_DEPOT_PATH); GHC user guide GHC_PACKAGE_PATH/GHC_ENVIRONMENT; ocamlfind OCAMLPATH; .NET "dotnet environment variables" (DOTNET_ROOT)',
    patterns: ['NODE_PATH', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONUSERBASE', 'PYTHONEXECUTABLE', 'PYTHONPLATLIBDIR', 'PYTHONSAFEPATH', 'CLASSPATH', 'JAVA_HOME', 'PERL5LIB', 'PERLLIB', 'RUBYLIB', 'GEM_*', 'LUA_PATH*', 'LUA_CPATH*', 'TCLLIBPATH', 'GOPATH', 'GOROOT', 'GOTOOLCHAIN', 'GOENV', 'GOCACHEPROG', 'GOEXPERIMENT', 'GOWORK', 'R_LIBS*', 'R_PROFILE*', 'R_ENVIRON*', 'JULIA_LOAD_PATH', 'JULIA_DEPOT_PATH', 'GHC_PACKAGE_PATH', 'GHC_ENVIRONMENT', 'CAML_LD_LIBRARY_PATH', 'OCAMLPATH', 'DOTNET_ROOT*'],
  },
  {
    id: 'build tools',
    rationale: 'make, CMake, autoconf and cargo run the compilers, linkers, wrappers and shells named here, with these flags (a flag can be $(shell …) or -fplugin=); a build runs them with every build secret in its environment',
    sources: 'GNU make manual "Implicit Variables" and "Other Special Variables" (MAKEFILES, MAKEFLAGS); CMake docs CMAKE_<LANG>_COMPILER_LAUNCHER and "Environment Variables"; GCC "Environment Variables Affecting GCC"; autoconf manual CONFIG_SHELL/CONFIG_SITE; ccache manual "Configuration" (CCACHE_PREFIX); pkg-config(1); Cargo "Environment Variables" (RUSTC, RUSTC_WRAPPER, RUSTC_WORKSPACE_WRAPPER, RUSTDOC, RUSTFLAGS); "go help environment" (GOFLAGS, CGO_*); automake "aclocal Options" (ACLOCAL_PATH); OCaml manual OCAMLPARAM (-ppx runs a command); ExtUtils::MakeMaker and Module::Build (PERL_MM_OPT, PERL_MB_OPT: CC=, LD= arguments)',
    patterns: [
      'CC', 'CXX', 'CPP', 'LD', 'AR', 'AS', 'NM', 'RANLIB', 'STRIP', 'OBJCOPY', 'OBJDUMP', 'READELF', 'FC', 'F77', 'M4', 'PC', 'CO', 'GET', 'LEX', 'YACC', 'LINT', 'MAKEINFO', 'TEX', 'TEXI2DVI', 'WEAVE', 'CWEAVE', 'TANGLE', 'CTANGLE', 'RM', 'WINDRES', 'DLLTOOL', 'LIPO',
      'LDLIBS', 'LIBS', 'CPATH', 'C_INCLUDE_PATH', 'CPLUS_INCLUDE_PATH', 'OBJC_INCLUDE_PATH', 'LIBRARY_PATH', 'COMPILER_PATH', 'GCC_*', 'CGO_*',
      '*FLAGS', 'MAKE*', 'CMAKE_*', '*_COMPILER_LAUNCHER', '*_COMPILER', 'CCACHE_*', 'DISTCC_*', 'CONFIG_SHELL', 'CONFIG_SITE', 'PKG_CONFIG*', 'RUSTC*', 'RUSTDOC*', 'RUSTUP_*',
      'ACLOCAL_PATH', 'OCAMLPARAM', 'PERL_MM_OPT', 'PERL_MB_OPT',
    ],
  },
  {
    id: 'package sources',
    rationale: 'package managers fetch (and run the install scripts of) dependencies from the registries and indexes named here, and read their configuration from these',
    sources: 'npm "config: Environment Variables" (npm_config_*, any case); Yarn "yarnrc" (YARN_*); Corepack README (COREPACK_NPM_REGISTRY); Bun "bunfig / Environment variables" (BUN_CONFIG_REGISTRY); pip "Configuration: Environment Variables" (PIP_*); uv "Environment variables" (UV_INDEX_URL, UV_*); Poetry and Pipenv configuration; Bundler bundle-config(1); Cargo "Environment Variables" (CARGO_*); "go help module-private" (GOPROXY, GONOSUMDB, …); Gradle "Build Environment" (GRADLE_*); conda "Configuration" (CONDA_<KEY>, CONDARC); RubyGems GEMRC; Hex "Environment variables" (HEX_MIRROR, HEX_UNSAFE_HTTPS); dart pub PUB_HOSTED_URL; Composer "Environment variables" (COMPOSER_*); NuGet NUGET_*; nix.conf NIX_CONFIG; Homebrew "Manpage: Environment" (HOMEBREW_BOTTLE_DOMAIN, …); Coursier COURSIER_REPOSITORIES; Deno "Environment variables" (DENO_CERT, DENO_AUTH_TOKENS, …); Julia Pkg JULIA_PKG_SERVER; PDM PDM_PYPI_URL',
    patterns: ['*_REGISTRY', '*_REGISTRY_URL', '*_REGISTRY_SERVER', '*_INDEX_URL', 'UV_*', 'PIP_*', 'POETRY_*', 'PIPENV_*', 'COREPACK_*', 'BUN_*', 'YARN_*', 'BUNDLE_*', 'CARGO_*', 'GRADLE_*', 'MAVEN_*', 'GOPROXY', 'GONOPROXY', 'GOSUMDB', 'GONOSUMDB', 'GONOSUMCHECK', 'GOINSECURE', 'GOPRIVATE', 'GOVCS', 'GOAUTH',
      '*_PYPI_URL', 'CONDA_*', 'CONDARC', 'GEMRC', 'HEX_*', 'PUB_HOSTED_URL', 'COMPOSER_*', 'NUGET_*', 'NIX_*', 'HOMEBREW_*', 'COURSIER_*', 'DENO_*', 'JULIA_PKG_*'],
    anyCase: ['npm_config_*'],
  },
  {
    id: 'binary downloads',
    rationale: 'install scripts download prebuilt binaries (native modules, browsers, engines, runtimes) from the mirror named here and then load or run them: during `npm ci` in a build, with every build secret in its environment',
    sources: 'node-sass README (SASS_BINARY_SITE); node-pre-gyp "{module}_binary_host_mirror"; Electron "Installation: Mirror" (ELECTRON_MIRROR); Prisma "Environment variables reference" (PRISMA_ENGINES_MIRROR); Puppeteer "Configuration" (PUPPETEER_DOWNLOAD_BASE_URL); Playwright "Browsers" (PLAYWRIGHT_DOWNLOAD_HOST); Cypress "Advanced Installation" (CYPRESS_DOWNLOAD_MIRROR); nvm README (NVM_NODEJS_ORG_MIRROR); chromedriver and geckodriver npm packages (CHROMEDRIVER_CDNURL)',
    patterns: ['*_MIRROR', '*_MIRROR_URL', '*_BINARY_SITE', '*_BINARY_HOST', '*_BINARY_HOST_MIRROR', '*_DOWNLOAD_HOST', '*_DOWNLOAD_BASE_URL', '*_CDNURL'],
  },
  {
    id: 'proxy and TLS',
    rationale: 'proxies and certificate settings decide where traffic goes and whether it is verified: a proxy or a trusted CA of the setter\'s reads every credential the workload sends; a key log file receives the TLS session keys',
    sources: 'curl(1) "ENVIRONMENT" (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY, any case; CURL_CA_BUNDLE, CURL_HOME); Node.js "Environment variables" (NODE_TLS_REJECT_UNAUTHORIZED, NODE_EXTRA_CA_CERTS); OpenSSL "openssl-env(7)" (SSL_CERT_FILE, SSL_CERT_DIR, OPENSSL_CONF); Requests "SSL Cert Verification" (REQUESTS_CA_BUNDLE); git-config(1) http.sslVerify (GIT_SSL_*); NSS/OpenSSL SSLKEYLOGFILE; Go "Go, Backwards Compatibility, and GODEBUG" (x509sha1, tlsrsakex, … re-enable what TLS verification refuses) and net/http (http2debug=2 logs every request header, Authorization included)',
    patterns: ['*_TLS_REJECT_UNAUTHORIZED', 'SSL_CERT_*', '*_CA_BUNDLE', '*_CA_CERTS', 'NODE_EXTRA_CA_CERTS', 'GIT_SSL_*', 'SSLKEYLOGFILE', 'CURL_*', 'WGETRC', 'PYTHONHTTPSVERIFY', 'OPENSSL_CONF', 'OPENSSL_ENGINES', 'OPENSSL_MODULES', 'GODEBUG'],
    anyCase: ['*_PROXY'],
  },
  {
    id: 'helper commands',
    rationale: 'programs run the commands named here on the workload\'s behalf (git\'s ssh, a pager, an editor), or read git configuration that names such commands; git\'s traces write request headers (credentials, with GIT_TRACE_REDACT=0) to a file the setter names',
    sources: 'git(1) "ENVIRONMENT VARIABLES" (GIT_SSH_COMMAND, GIT_CONFIG_*, GIT_EXEC_PATH, GIT_DIR, GIT_TRACE_CURL, GIT_TRACE_REDACT, …); ssh(1) SSH_ASKPASS; less(1) LESSOPEN/LESSCLOSE; environ(7) (EDITOR, VISUAL, PAGER, BROWSER)',
    patterns: ['GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'GIT_ASKPASS', 'GIT_EDITOR', 'GIT_PAGER', 'GIT_EXTERNAL_DIFF', 'GIT_PROXY_COMMAND', 'GIT_TEMPLATE_DIR', 'GIT_CONFIG*', 'GIT_DIR', 'GIT_COMMON_DIR', 'GIT_WORK_TREE', 'GIT_TRACE*', 'SSH_ASKPASS', 'EDITOR', 'VISUAL', 'PAGER', 'BROWSER', 'LESSOPEN', 'LESSCLOSE'],
  },
  {
    id: 'container and cluster clients',
    rationale: 'where docker, BuildKit, podman and kubectl send their work: `docker build --secret …` run by `sg-agent exec --scope build` hands the build and its secrets to the daemon DOCKER_HOST names; DOCKER_CONTENT_TRUST and DOCKER_TLS_VERIFY turn checks off',
    sources: 'docker CLI reference "Environment variables" (DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY, DOCKER_CONTENT_TRUST, …); BuildKit buildctl BUILDKIT_HOST; docker buildx "Environment variables" (BUILDX_*); podman-remote CONTAINER_HOST/CONTAINER_CONNECTION; kubectl KUBECONFIG (a kubeconfig can name an exec credential plugin)',
    patterns: ['DOCKER_*', 'BUILDKIT_HOST', 'BUILDX_*', 'CONTAINER_HOST', 'CONTAINER_CONNECTION', 'KUBECONFIG'],
  },
  {
    id: 'secret-groups clients',
    rationale: 'where sg, sg-agent and the client library (createClient) connect and which CA they trust: a server of the setter\'s receives the token of every such client the workload runs',
    sources: 'this project: docs/cli.md "Conventions" (SG_ADDR, …); docs/agent.md "Typed client" and "Every option" (SG_ADDR, SG_CA, SG_CERT, SG_KEY, SG_TOKEN_FILE, …)',
    patterns: ['SG_*'],
  },
  {
    id: 'configuration files',
    rationale: 'where programs and libraries find start-up configuration (git\'s core.sshCommand, .npmrc, terminfo, Kerberos), which can name code to run',
    sources: 'XDG Base Directory Specification; terminfo(5); krb5.conf(5) KRB5_CONFIG; sudo env.c',
    patterns: ['HOME', 'XDG_CONFIG_HOME', 'XDG_CONFIG_DIRS', 'TERMINFO', 'TERMINFO_DIRS', 'TERMPATH', 'TERMCAP', 'KRB5_CONFIG', 'KRB5_KTNAME'],
  },
];

/** A compiled pattern: `NAME`, `PREFIX*`, `*SUFFIX` or `PREFIX*SUFFIX`. */
export interface Pattern {
  source: string;
  prefix: string;
  suffix: string;
  exact: boolean;
  anyCase: boolean;
}

export function compilePattern(source: string, anyCase = false): Pattern {
  const star = source.indexOf('*');
  const norm = (s: string) => (anyCase ? s.toLowerCase() : s);
  if (star < 0) return { source, prefix: norm(source), suffix: '', exact: true, anyCase };
  return { source, prefix: norm(source.slice(0, star)), suffix: norm(source.slice(star + 1)), exact: false, anyCase };
}

export function matches(p: Pattern, key: string): boolean {
  const k = p.anyCase ? key.toLowerCase() : key;
  if (p.exact) return k === p.prefix;
  return k.length >= p.prefix.length + p.suffix.length && k.startsWith(p.prefix) && k.endsWith(p.suffix);
}

const COMPILED = FAMILIES.map((f) => ({
  id: f.id,
  patterns: [...f.patterns.map((s) => compilePattern(s)), ...(f.anyCase ?? []).map((s) => compilePattern(s, true))],
}));

/** The first family a name belongs to, or null for an ordinary key. */
export function executionFamily(key: string): string | null {
  for (const f of COMPILED) if (f.patterns.some((p) => matches(p, key))) return f.id;
  return null;
}

/** Whether a variable name controls what a workload executes (built-in families only). */
export function isExecutionKey(key: string): boolean {
  return executionFamily(key) !== null;
}
