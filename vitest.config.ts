import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real servers and processes; two cores, so keep it modest.
    maxWorkers: 2,
    minWorkers: 1,
    // expect.poll waits for a page or a process to catch up; 1 s (the default) is shorter than a
    // console page's load on a busy CI machine. A condition that never holds still fails.
    expect: { poll: { timeout: 10_000 } },
  },
});
