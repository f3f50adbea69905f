import { scratchPostgresStore } from './helpers/pglite-server.js';
import { describeIndexStore } from './index-store.case.js';

describeIndexStore('PostgreSQL', scratchPostgresStore('store'));
