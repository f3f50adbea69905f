import { readFlags } from '../core/command-line.js';
import { ConfigError, loadConfig } from '../core/config.js';
import { KnownError } from '../core/errors.js';
import { createPool, describeDatabase, withDatabase } from '../core/index/postgres/database.js';
import { migrate, SCHEMA_VERSION } from '../core/index/postgres/migrations.js';

const USAGE = `Usage: npm run db:migrate

Creates or updates the schema of the PostgreSQL database of DATABASE_URL (in DATABASE_SCHEMA, default
cited_answers): the tables of indexes, their generations and the shared rate limit, and the pgvector extension.
Safe to run at any time and from several machines at once; \`npm run ingest\` does it too.

Options:
  --help         show this help`;

async function main(): Promise<number> {
  const values = readFlags({ help: { type: 'boolean', default: false } }, USAGE);
  if (typeof values === 'number') return values;
  const { database } = loadConfig();
  if (database === undefined) throw new ConfigError('npm run db:migrate needs DATABASE_URL.');
  const pool = createPool(database, () => undefined, 1);
  try {
    const applied = await withDatabase(database.url, () => migrate(pool, database.schema));
    const where = `${describeDatabase(database.url)}, schema ${database.schema}`;
    console.log(
      applied.length === 0
        ? `The schema of ${where} is up to date (version ${SCHEMA_VERSION}).`
        : `Applied migration(s) ${applied.join(', ')} to ${where}: now at version ${SCHEMA_VERSION}.`,
    );
    return 0;
  } finally {
    await pool.end();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof KnownError ? `db:migrate: ${error.message}` : error);
    process.exitCode = 1;
  },
);
