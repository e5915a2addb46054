/** Execution-controlling keys: names that let whoever sets them run code in the workload. */
import { describe, expect, it } from 'vitest';
import { EXECUTION_KEYS, isExecutionKey } from '../../server/domain/execution-keys.js';

describe('isExecutionKey', () => {
  it.each([
    'PATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'DYLD_INSERT_LIBRARIES', 'NODE_OPTIONS', 'NODE_PATH',
    'PYTHONPATH', 'PYTHONSTARTUP', 'PYTHONHOME', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH',
    'BASH_ENV', 'ENV', 'SHELLOPTS', 'PS4', 'PROMPT_COMMAND', 'IFS', 'PERL5OPT', 'PERL5LIB', 'RUBYOPT', 'RUBYLIB',
    'GCONV_PATH', 'GIT_SSH_COMMAND', 'GIT_CONFIG_KEY_0', 'HOME', 'MAVEN_OPTS', 'BASH_FUNC_ls%%', 'npm_config_registry', 'NPM_CONFIG_SCRIPT_SHELL',
    'PIP_INDEX_URL', 'CORECLR_PROFILER_PATH', 'DOTNET_STARTUP_HOOKS',
    // Windows resolves these in any case
    'Path', 'path', 'PathExt', 'ComSpec',
  ])('%s controls execution', (key) => {
    expect(isExecutionKey(key)).toBe(true);
  });

  it.each(['LOG_LEVEL', 'DATABASE_URL', 'PORT', 'STRIPE_KEY', 'API_PATH', 'PATH_PREFIX', 'MY_PATH', 'NODE_ENV', 'env', 'LDAP_URL', 'JAVA_VERSION', 'PYTHON_VERSION'])(
    '%s is an ordinary key',
    (key) => {
      expect(isExecutionKey(key)).toBe(false);
    },
  );

  it('lists are sorted into exact names and prefixes, without duplicates', () => {
    expect(new Set(EXECUTION_KEYS.names).size).toBe(EXECUTION_KEYS.names.length);
    expect(EXECUTION_KEYS.prefixes.every((p) => p.endsWith('_') || p === '_RLD' || p === 'GIT_CONFIG')).toBe(true);
  });
});
