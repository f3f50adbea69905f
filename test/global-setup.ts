import { startPgliteServer } from './helpers/pglite-server.js';

/**
 * Starts one PostgreSQL server (PGlite with pgvector, over the wire protocol) for the whole run, without waiting
 * for it: tests that use it wait (`sharedDatabaseUrl`), the others start at once. Its URL reaches the test
 * processes as TEST_DATABASE_URL. Stopped at the end of the run.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const server = await startPgliteServer();
  process.env['TEST_DATABASE_URL'] = server.url;
  return () => server.stop();
}
