import { DatabaseSchemaError } from '../../errors.js';
import { inTransaction, type Pool, type Queryable, quoteName } from './database.js';

/**
 * The database schema, as numbered migrations applied in order, each once, each in its own transaction, under a
 * lock so that two processes migrating at once apply each migration once. `npm run db:migrate` and `npm run ingest`
 * apply them; a server only checks that the schema is the one it reads.
 *
 * Every generation of an index has its own partition of each table (`chunks_g12`…), created by the ingest that
 * writes it and dropped whole when it is removed: a generation's rows are never updated or deleted one by one.
 */
export interface Migration {
  version: number;
  name: string;
  /** The statements, for the schema `s` (quoted). */
  sql: (s: string) => string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'generations, sources, passages with vectors, keyword postings, rate limits',
    sql: (s) => `
      CREATE EXTENSION IF NOT EXISTS vector;

      -- One row per index (a database holds several, by name): the generation its servers serve.
      CREATE TABLE ${s}.indexes (
        name text PRIMARY KEY,
        current_generation bigint,
        switched_at timestamptz
      );

      -- Each ingest writes a generation: 'building' until complete, then 'current' in the same transaction that
      -- points its index at it; the generation it replaces becomes 'retired' and is removed after a grace period.
      CREATE TABLE ${s}.generations (
        id bigserial PRIMARY KEY,
        index_name text NOT NULL,
        state text NOT NULL CHECK (state IN ('building', 'current', 'retired')),
        builder text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        retired_at timestamptz,
        -- What the index was built from and with (format, embedder, readers, chunker, passage count).
        description jsonb,
        -- The keyword index's fields, passage count and average field lengths (BM25's statistics).
        keyword_statistics jsonb,
        -- The lexical embedder's fitted state, without which a question cannot be embedded.
        embedder_state jsonb
      );
      CREATE INDEX generations_by_index ON ${s}.generations (index_name, state);

      -- The indexed documents and their citable text.
      CREATE TABLE ${s}.sources (
        generation bigint NOT NULL,
        position integer NOT NULL,
        source text NOT NULL,
        checksum text NOT NULL,
        title text NOT NULL,
        language text NOT NULL,
        chars integer NOT NULL,
        chunk_count integer NOT NULL,
        text text NOT NULL,
        sections jsonb NOT NULL,
        -- For a paged document (PDF): the span of the text of each page.
        pages jsonb,
        PRIMARY KEY (generation, source)
      ) PARTITION BY LIST (generation);

      -- The passages, numbered in index order, with their vectors (an HNSW index per partition).
      CREATE TABLE ${s}.chunks (
        generation bigint NOT NULL,
        ordinal integer NOT NULL,
        id text NOT NULL,
        source text NOT NULL,
        title text NOT NULL,
        section jsonb NOT NULL,
        language text NOT NULL,
        -- The kind of its sentences (paragraph, list-item, table-row, code), or 'mixed'.
        kind text NOT NULL,
        -- For a paged document (PDF), the page the passage starts on.
        page integer,
        start_offset integer NOT NULL,
        end_offset integer NOT NULL,
        text text NOT NULL,
        sentences jsonb NOT NULL,
        embedding vector NOT NULL,
        PRIMARY KEY (generation, ordinal)
      ) PARTITION BY LIST (generation);

      -- The keyword index: each term (a stem) with the passages holding it in their text, for BM25 and the
      -- document frequencies of relevance; postings per field (0: text, 1: title and section path).
      CREATE TABLE ${s}.terms (
        generation bigint NOT NULL,
        id integer NOT NULL,
        term text NOT NULL,
        text_frequency integer NOT NULL,
        PRIMARY KEY (generation, id)
      ) PARTITION BY LIST (generation);
      CREATE TABLE ${s}.postings (
        generation bigint NOT NULL,
        term_id integer NOT NULL,
        field smallint NOT NULL,
        ordinals integer[] NOT NULL,
        counts integer[] NOT NULL,
        lengths integer[] NOT NULL,
        PRIMARY KEY (generation, term_id, field)
      ) PARTITION BY LIST (generation);
      -- The terms by letter pair, to find those within a few edits of a question's word.
      CREATE TABLE ${s}.term_pairs (
        generation bigint NOT NULL,
        pair bigint NOT NULL,
        term_ids integer[] NOT NULL,
        PRIMARY KEY (generation, pair)
      ) PARTITION BY LIST (generation);

      -- Requests counted per client and window, shared by every server (RATE_LIMIT_STORE=database).
      CREATE TABLE ${s}.rate_limits (
        key text PRIMARY KEY,
        hits integer NOT NULL,
        reset_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "each source's census of page furniture, for incremental ingest",
    sql: (s) => `
      -- What each source brought to the corpus-wide judgement of page furniture (hashes of its page names and
      -- blocks), so that an ingest can judge an unchanged document again without reading it. Null in the
      -- generations written before: an ingest then reads the whole corpus again.
      ALTER TABLE ${s}.sources ADD COLUMN census jsonb;
    `,
  },
];

/** The first schema whose sources keep their census of page furniture, which an incremental ingest needs. */
export const CENSUS_VERSION = 2;

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

/** A lock key of the migrations, the same in every process. */
const MIGRATION_LOCK = 0x63_61_6d_69;

/** Applies the migrations the database lacks; returns the versions applied (none when it is up to date). */
export async function migrate(pool: Pool, schema: string): Promise<number[]> {
  const s = quoteName(schema);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
       version integer PRIMARY KEY,
       name text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    const done = await inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const found = await client.query(`SELECT 1 FROM ${s}.schema_migrations WHERE version = $1`, [migration.version]);
      if (found.rowCount !== 0) return false;
      await client.query(migration.sql(s));
      await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}

/** The schema's version: 0 when the product's tables were never created. */
export async function schemaVersion(database: Queryable, schema: string): Promise<number> {
  const exists = await database.query<{ found: string | null }>(`SELECT to_regclass($1) AS found`, [
    `${quoteName(schema)}.schema_migrations`,
  ]);
  if (exists.rows[0]?.found == null) return 0;
  const result = await database.query<{ version: number | null }>(
    `SELECT max(version) AS version FROM ${quoteName(schema)}.schema_migrations`,
  );
  return result.rows[0]?.version ?? 0;
}

/** Throws a `DatabaseSchemaError` saying what to run unless the schema is the one this version reads. */
export async function checkSchema(database: Queryable, schema: string): Promise<void> {
  const version = await schemaVersion(database, schema);
  if (version === SCHEMA_VERSION) return;
  throw new DatabaseSchemaError(
    version === 0
      ? `The database has no schema ${schema} yet. Create it with \`npm run db:migrate\` (or \`npm run ingest\`).`
      : version < SCHEMA_VERSION
        ? `The database schema ${schema} is at version ${version}; this version reads ${SCHEMA_VERSION}. ` +
          'Run `npm run db:migrate`.'
        : `The database schema ${schema} is at version ${version}, newer than this version reads ` +
          `(${SCHEMA_VERSION}). Run the newer version of cited-answers.`,
  );
}
