import { describe } from 'vitest';
import { dropSchema, scratchSchema } from './helpers/pglite-server.js';
import { describeIndexStore } from './index-store.case.js';

/**
 * The store suite against a PostgreSQL server of your own (with pgvector): `DATABASE_URL=postgres://… npm run
 * test:live`, skipped without DATABASE_URL. Each test works in a scratch schema, dropped after it.
 */
const url = process.env['DATABASE_URL'];

describe.skipIf(url === undefined || url === '')('against the server of DATABASE_URL', () => {
  describeIndexStore('PostgreSQL (DATABASE_URL)', {
    environment: () =>
      Promise.resolve({ INDEX_STORE: 'postgres', DATABASE_URL: url, DATABASE_SCHEMA: scratchSchema('live') }),
    cleanup: (environment) => dropSchema(url ?? '', environment['DATABASE_SCHEMA'] ?? ''),
  });
});
