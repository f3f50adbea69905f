import { scratchPostgresStore } from './helpers/pglite-server.js';
import { describeIncrementalIngest } from './incremental-ingest.case.js';

describeIncrementalIngest('PostgreSQL', scratchPostgresStore('incremental'));
