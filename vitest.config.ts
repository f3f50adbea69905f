import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    exclude: ['test/**/*.int.test.ts', 'node_modules/**'],
    // Bounds for a test or hook that hangs, not claims about speed: tests that start processes or read the
    // evaluation corpora take several times longer on a loaded 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
