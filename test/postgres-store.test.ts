import { dropSchema, scratchSchema, sharedDatabaseUrl } from './helpers/pglite-server.js';
import { describeIndexStore } from './index-store.case.js';

describeIndexStore('PostgreSQL', {
  environment: async () => ({
    INDEX_STORE: 'postgres',
    DATABASE_URL: await sharedDatabaseUrl(),
    DATABASE_SCHEMA: scratchSchema('store'),
  }),
  cleanup: async (environment) => dropSchema(environment['DATABASE_URL'] ?? '', environment['DATABASE_SCHEMA'] ?? ''),
});
