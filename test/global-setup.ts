import { buildProduct } from '../scripts/lib/build-product.js';
import { startPgliteServer } from './helpers/pglite-server.js';

/**
 * Compiles the product once for the whole run: tests start its commands from `dist/`, as `npm start` does, and a
 * build made here cannot race another that a test process would make on finding it stale. Starts one PostgreSQL
 * server (PGlite with pgvector, over the wire protocol) for the whole run, without waiting for it: tests that use it
 * wait (`sharedDatabaseUrl`), the others start at once. Its URL reaches the test processes as TEST_DATABASE_URL.
 * Stopped at the end of the run.
 */
export default async function setup(): Promise<() => Promise<void>> {
  buildProduct();
  const server = await startPgliteServer();
  process.env['TEST_DATABASE_URL'] = server.url;
  return () => server.stop();
}
