import { defineConfig } from 'vitest/config';

/** Tests against live services; each skips itself without its key. */
export default defineConfig({
  test: { include: ['test/**/*.int.test.ts'], testTimeout: 60_000 },
});
