/** Execution-controlling keys: names that let whoever sets them run code in the workload or its build. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { executionFamily, FAMILIES, isExecutionKey } from '../../server/domain/execution-keys.js';
import { executionRule, validateExecutionKeyPatterns } from '../../server/domain/project-policy.js';

/** Every name of the round-3 review (finding 1) that the previous hand-kept list let through. */
const REVIEWER_LIST = [
  'CFLAGS', 'CPPFLAGS', 'CXXFLAGS', 'LDFLAGS', 'AR', 'RUSTC_WORKSPACE_WRAPPER', 'RUSTDOC', 'PKG_CONFIG', 'CONFIG_SHELL',
  'CMAKE_C_COMPILER_LAUNCHER', 'CMAKE_CXX_COMPILER_LAUNCHER', 'CCACHE_PREFIX', 'MAKEFILES', 'UV_INDEX_URL', 'COREPACK_NPM_REGISTRY',
  'BUN_CONFIG_REGISTRY', 'ERL_AFLAGS', 'ERL_ZFLAGS', 'ELIXIR_ERL_OPTIONS', 'GLIBC_TUNABLES', 'LOCALDOMAIN', 'RES_OPTIONS', 'HOSTALIASES',
  'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NODE_TLS_REJECT_UNAUTHORIZED',
];

/** Per family: the reviewer-reported (or previously listed) members and a few siblings the patterns must catch too. */
const MEMBERS: Record<string, string[]> = {
  loader: ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'DYLD_INSERT_LIBRARIES', 'GLIBC_TUNABLES', 'GCONV_PATH', 'LD_BIND_NOW', 'LDR_PRELOAD64', 'MALLOC_TRACE'],
  resolver: ['LOCALDOMAIN', 'RES_OPTIONS', 'HOSTALIASES', 'RESOLV_HOST_CONF', 'NIS_PATH'],
  'search path': ['PATH', 'IFS', 'Path', 'path', 'PathExt', 'ComSpec', 'PSModulePath'],
  shell: ['BASH_ENV', 'ENV', 'SHELLOPTS', 'PS4', 'PROMPT_COMMAND', 'BASH_FUNC_ls%%', 'ZDOTDIR'],
  'interpreter options': [
    'NODE_OPTIONS', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'ELIXIR_ERL_OPTIONS', 'ERL_AFLAGS', 'ERL_ZFLAGS', 'ERL_FLAGS',
    'ERL_LIBS', 'PERL5OPT', 'RUBYOPT', 'PYTHONSTARTUP', 'JAVA_OPTS', 'KAFKA_OPTS', 'SBT_OPTS', 'DOTNET_STARTUP_HOOKS', 'CORECLR_PROFILER_PATH', 'LUA_INIT_5_4',
  ],
  'module path': [
    'NODE_PATH', 'PYTHONPATH', 'PYTHONHOME', 'CLASSPATH', 'PERL5LIB', 'RUBYLIB', 'GEM_PATH', 'GEM_HOME', 'LUA_PATH_5_4', 'GOTOOLCHAIN',
    'R_LIBS_USER', 'R_PROFILE_USER', 'R_ENVIRON_USER', 'JULIA_LOAD_PATH', 'GHC_PACKAGE_PATH', 'OCAMLPATH', 'DOTNET_ROOT_X64',
  ],
  'build tools': [
    'CFLAGS', 'CPPFLAGS', 'CXXFLAGS', 'LDFLAGS', 'AR', 'CC', 'CXX', 'CPP', 'LD', 'AS', 'NM', 'RANLIB', 'STRIP', 'OBJCOPY',
    'RUSTC', 'RUSTC_WRAPPER', 'RUSTC_WORKSPACE_WRAPPER', 'RUSTDOC', 'RUSTDOCFLAGS', 'RUSTFLAGS', 'PKG_CONFIG', 'PKG_CONFIG_PATH', 'CONFIG_SHELL', 'CONFIG_SITE',
    'CMAKE_C_COMPILER_LAUNCHER', 'CMAKE_CUDA_COMPILER_LAUNCHER', 'CMAKE_TOOLCHAIN_FILE', 'CCACHE_PREFIX', 'CCACHE_COMPILER', 'MAKEFILES', 'MAKEFLAGS', 'MAKE',
    'FFLAGS', 'ARFLAGS', 'CGO_LDFLAGS_ALLOW', 'LDLIBS', 'GCC_EXEC_PREFIX', 'COMPILER_PATH', 'ACLOCAL_PATH', 'OCAMLPARAM', 'PERL_MM_OPT', 'PERL_MB_OPT',
  ],
  'package sources': [
    'UV_INDEX_URL', 'UV_EXTRA_INDEX_URL', 'UV_INDEX', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'COREPACK_NPM_REGISTRY', 'BUN_CONFIG_REGISTRY', 'npm_config_registry',
    'NPM_CONFIG_SCRIPT_SHELL', 'YARN_NPM_REGISTRY_SERVER', 'CARGO_REGISTRIES_CRATES_IO_PROTOCOL', 'CARGO_BUILD_RUSTC_WRAPPER', 'BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/',
    'GOPROXY', 'GONOSUMDB', 'POETRY_REPOSITORIES_X_URL', 'GRADLE_USER_HOME', 'PNPM_REGISTRY',
    'PDM_PYPI_URL', 'CONDA_CHANNELS', 'CONDARC', 'GEMRC', 'HEX_MIRROR', 'HEX_UNSAFE_HTTPS', 'PUB_HOSTED_URL', 'COMPOSER_AUTH', 'NUGET_PACKAGES', 'NIX_CONFIG',
    'HOMEBREW_BOTTLE_DOMAIN', 'COURSIER_REPOSITORIES', 'DENO_CERT', 'JULIA_PKG_SERVER',
  ],
  'binary downloads': [
    'SASS_BINARY_SITE', 'ELECTRON_MIRROR', 'PRISMA_ENGINES_MIRROR', 'PUPPETEER_DOWNLOAD_BASE_URL', 'PLAYWRIGHT_DOWNLOAD_HOST', 'CYPRESS_DOWNLOAD_MIRROR',
    'NVM_NODEJS_ORG_MIRROR', 'CHROMEDRIVER_CDNURL', 'SHARP_BINARY_HOST', 'NODEJS_ORG_MIRROR',
  ],
  'proxy and TLS': [
    'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'Https_Proxy', 'ALL_PROXY', 'NO_PROXY', 'no_proxy', 'FTP_PROXY', 'NODE_TLS_REJECT_UNAUTHORIZED',
    'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'AWS_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS', 'GIT_SSL_NO_VERIFY', 'GIT_SSL_CAINFO', 'SSLKEYLOGFILE',
    'OPENSSL_CONF', 'GODEBUG',
  ],
  'helper commands': ['GIT_SSH_COMMAND', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_GLOBAL', 'GIT_ASKPASS', 'SSH_ASKPASS', 'EDITOR', 'PAGER', 'LESSOPEN', 'GIT_DIR', 'GIT_TRACE_CURL', 'GIT_TRACE_REDACT'],
  'container and cluster clients': ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_CONFIG', 'DOCKER_TLS_VERIFY', 'DOCKER_CONTENT_TRUST', 'BUILDKIT_HOST', 'BUILDX_BUILDER', 'CONTAINER_HOST', 'KUBECONFIG'],
  'secret-groups clients': ['SG_ADDR', 'SG_CA', 'SG_CERT', 'SG_KEY', 'SG_TOKEN_FILE', 'SG_INSECURE'],
  'configuration files': ['HOME', 'XDG_CONFIG_HOME', 'TERMINFO', 'KRB5_CONFIG'],
};

describe('execution-controlling key families', () => {
  it.each(Object.entries(MEMBERS))('family %s catches its members', (family, names) => {
    for (const name of names) expect(isExecutionKey(name), name).toBe(true);
    // Each member is caught by this family or an earlier one (a name can belong to two).
    const order = FAMILIES.map((f) => f.id);
    for (const name of names) expect(order.indexOf(executionFamily(name)!), name).toBeLessThanOrEqual(order.indexOf(family));
  });

  it('every family is tested, documented and has patterns', () => {
    expect(FAMILIES.map((f) => f.id).sort()).toEqual(Object.keys(MEMBERS).sort());
    for (const f of FAMILIES) {
      expect(f.rationale.length, f.id).toBeGreaterThan(20);
      expect(f.sources.length, f.id).toBeGreaterThan(10);
      expect(f.patterns.length + (f.anyCase?.length ?? 0), f.id).toBeGreaterThan(0);
      for (const p of [...f.patterns, ...(f.anyCase ?? [])]) expect(p.split('*').length, `${f.id}: ${p}`).toBeLessThanOrEqual(2);
    }
    const all = FAMILIES.flatMap((f) => [...f.patterns, ...(f.anyCase ?? [])]);
    expect(new Set(all).size, 'a pattern listed twice').toBe(all.length);
  });

  it.each(REVIEWER_LIST)('%s from the review is refused', (name) => {
    expect(executionFamily(name)).not.toBeNull();
  });

  it('a pattern catches every name of its shape, not just the listed ones', () => {
    const tail = fc.stringMatching(/^[A-Z0-9_]{0,12}$/);
    const patterns = FAMILIES.flatMap((f) => [...f.patterns.map((p) => ({ p, anyCase: false })), ...(f.anyCase ?? []).map((p) => ({ p, anyCase: true }))]).filter((x) => x.p.includes('*'));
    fc.assert(
      fc.property(fc.constantFrom(...patterns), tail, fc.boolean(), ({ p, anyCase }, middle, lower) => {
        const name = p.replace('*', middle);
        expect(isExecutionKey(anyCase && lower ? name.toLowerCase() : name)).toBe(true);
      }),
    );
  });

  it.each(['LOG_LEVEL', 'DATABASE_URL', 'PORT', 'STRIPE_KEY', 'API_PATH', 'PATH_PREFIX', 'MY_PATH', 'NODE_ENV', 'env', 'LDAP_URL', 'JAVA_VERSION', 'PYTHON_VERSION', 'cflags', 'ld_preload', 'CCACHE', 'DATABASE_HOST', 'REDIS_INDEX', 'DB_HOST', 'SENTRY_DSN', 'APP_DOWNLOAD_DIR', 'SG', 'MIRROR'])(
    '%s is an ordinary key',
    (key) => {
      expect(isExecutionKey(key)).toBe(false);
    },
  );

  it('SECURITY.md shows the current table (regenerate with node scripts/gen-execution-keys-doc.mjs)', () => {
    // Exits 1, failing this test, when the generated block differs from the table.
    execFileSync(process.execPath, [join(import.meta.dirname, '../../scripts/gen-execution-keys-doc.mjs'), '--check'], { stdio: 'pipe' });
  });
});

describe("a project's own execution-controlling keys", () => {
  it('NAME and PREFIX* add to the built-in families; the rule names what matched', () => {
    const own = ['ACME_*', 'MY_PLUGIN_PATH'];
    expect(executionRule('MY_PLUGIN_PATH', own)).toBe('project policy MY_PLUGIN_PATH');
    expect(executionRule('ACME_HOOK', own)).toBe('project policy ACME_*');
    expect(executionRule('ACME_', own)).toBe('project policy ACME_*');
    expect(executionRule('MY_PLUGIN_PATH_2', own)).toBeNull();
    expect(executionRule('acme_hook', own)).toBeNull();
    expect(executionRule('CFLAGS', own)).toBe('build tools');
    expect(executionRule('MY_PLUGIN_PATH')).toBeNull();
  });

  it('only NAME or PREFIX*, bounded in count and length; sorted without duplicates', () => {
    expect(validateExecutionKeyPatterns(['B_*', 'A', 'B_*'])).toEqual(['A', 'B_*']);
    for (const bad of ['*', '*_SUFFIX', 'A*B', 'A**', '1ABC', 'A-B', '', 'A B', '__proto__', `${'A'.repeat(257)}*`]) {
      expect(() => validateExecutionKeyPatterns([bad]), bad).toThrow(/INVALID_ARGUMENT|not a NAME|reserved/);
    }
    expect(() => validateExecutionKeyPatterns(Array.from({ length: 101 }, (_, i) => `K${i}`))).toThrow(/at most 100/);
  });
});
