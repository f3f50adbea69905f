import type { DatabaseConfig } from '../../config.js';
import { DEFAULTS } from '../../defaults.js';
import type { Chunk, SourceText } from '../../types.js';
import { type SourceCensus, sourceCensusSchema } from '../census-file.js';
import { INDEX_FORMAT_VERSION } from '../manifest.js';
import type { IndexDescription } from '../passage-index.js';
import type { StoredGeneration } from '../stored-generation.js';
import type { OrdinalRange } from '../vector-file.js';
import { type Pool, unavailable, withDatabase } from './database.js';
import { checkSchema, CENSUS_VERSION, schemaVersion, SCHEMA_VERSION } from './migrations.js';
import {
  CHUNK_COLUMNS,
  type ChunkRow,
  generationTables,
  indexedSources,
  readSourceText,
  servedGeneration,
  storedDescriptionSchema,
  toChunk,
} from './postgres-index.js';

/**
 * The generation an index of the database serves, as an incremental ingest reads it (`StoredGeneration`): its
 * description and sources, each source's census of page furniture, and its passages, texts and vectors by ordinal
 * range. An ingest into the database copies the rows it carries over inside the database (`GenerationWriter`'s
 * `carrySources` and `carryChunks`); it reads through here the censuses, and the carried passages whose keyword terms
 * it counts again.
 */
export class PostgresGeneration implements StoredGeneration {
  /** Every generation keeps its passages' vectors, in its `chunks` rows. */
  readonly keepsVectors = true;
  private readonly tables: ReturnType<typeof generationTables>;

  constructor(
    private readonly pool: Pool,
    private readonly database: DatabaseConfig,
    /** The generation's id, whose partitions an ingest copies from. */
    readonly id: number,
    readonly description: IndexDescription,
  ) {
    this.tables = generationTables(database.schema, id);
  }

  async censuses(): Promise<SourceCensus[]> {
    const result = await this.read<{ source: string; census: unknown }>(
      `SELECT source, census FROM ${this.tables.sources} ORDER BY position`,
    );
    return result.rows.map((row) => sourceCensusSchema.parse({ ...(row.census as object), source: row.source }));
  }

  async *chunks(range: OrdinalRange): AsyncGenerator<Chunk> {
    for await (const row of this.pages<ChunkRow>(CHUNK_COLUMNS, range)) yield toChunk(row);
  }

  sourceText(source: string): Promise<SourceText | undefined> {
    return withDatabase(this.database.url, () => readSourceText(this.pool, this.database.schema, this.id, source));
  }

  async *vectors(ranges: readonly OrdinalRange[]): AsyncGenerator<Float32Array> {
    for (const range of ranges) {
      // pgvector's text form, `[0.1,0.2,…]`, is a JSON array; its values are float32 already.
      for await (const row of this.pages<{ ordinal: number; embedding: string }>('ordinal, embedding::text', range)) {
        yield Float32Array.from(JSON.parse(row.embedding) as number[]);
      }
    }
  }

  /** The pool belongs to the ingest, which writes the new generation with it. */
  close(): void {}

  /** The rows of an ordinal range of the passages, in order, read a page at a time. */
  private async *pages<Row extends { ordinal: number }>(columns: string, range: OrdinalRange): AsyncGenerator<Row> {
    const page = DEFAULTS.database.insertBatch;
    for (let from = range.start; from < range.end; from += page) {
      const result = await this.read<Row>(
        `SELECT ${columns} FROM ${this.tables.chunks} WHERE ordinal >= $1 AND ordinal < $2 ORDER BY ordinal`,
        [from, Math.min(from + page, range.end)],
      );
      yield* result.rows;
    }
  }

  private read<Row extends object>(sql: string, values: unknown[] = []): Promise<{ rows: Row[] }> {
    return withDatabase(this.database.url, () => this.pool.query<Row>(sql, values));
  }
}

/** The generation an ingest can update, or why it cannot (the ingest then reads the whole corpus again). */
export type PostgresGenerationResult = { generation: PostgresGeneration } | { unusable: string };

/**
 * Opens the generation the index `indexName` serves for an incremental ingest, after checking that it can be
 * carried over: this version's format, a census of every source (generations written before the schema kept them
 * have none), and as many passages as its description counts. A schema newer than this version reads is refused.
 */
export async function openPostgresGeneration(
  pool: Pool,
  database: DatabaseConfig,
  indexName: string,
): Promise<PostgresGenerationResult> {
  try {
    const version = await schemaVersion(pool, database.schema);
    if (version > SCHEMA_VERSION) await checkSchema(pool, database.schema);
    const row = version === 0 ? undefined : await servedGeneration(pool, database.schema, indexName);
    if (row === undefined) return { unusable: 'there is no index yet' };
    if (version < CENSUS_VERSION) return { unusable: 'the index in place keeps no census of page furniture' };
    const stored = storedDescriptionSchema.safeParse(row.description);
    if (!stored.success) return { unusable: 'the description of the index in place is unreadable' };
    if (stored.data.formatVersion !== INDEX_FORMAT_VERSION) return { unusable: 'the index has an older format' };
    const tables = generationTables(database.schema, row.id);
    const counts = await pool.query<{ uncounted: number; counted: number; rows: number }>(
      `SELECT (SELECT count(*) FILTER (WHERE census IS NULL) FROM ${tables.sources})::integer AS uncounted,
              (SELECT coalesce(sum(chunk_count), 0) FROM ${tables.sources})::integer AS counted,
              (SELECT count(*) FROM ${tables.chunks})::integer AS rows`,
    );
    const { uncounted, counted, rows } = counts.rows[0] ?? { uncounted: 0, counted: -1, rows: -1 };
    if (uncounted > 0) return { unusable: 'the index in place keeps no census of page furniture' };
    const { chunkCount } = stored.data;
    if (counted !== chunkCount || rows !== chunkCount) {
      return { unusable: 'the passages of the index in place do not match its description' };
    }
    const sources = await indexedSources(pool, database.schema, row.id);
    return { generation: new PostgresGeneration(pool, database, row.id, { ...stored.data, sources }) };
  } catch (error) {
    throw unavailable(database.url, error);
  }
}
