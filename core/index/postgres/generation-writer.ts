import os from 'node:os';
import type { DatabaseConfig } from '../../config.js';
import { DEFAULTS } from '../../defaults.js';
import { IndexMissingError } from '../../errors.js';
import type { Chunk, SourceDocument } from '../../types.js';
import type { DocumentCensus } from '../census-file.js';
import type { KeywordIndex } from '../keyword-index.js';
import type { IndexDescription } from '../passage-index.js';
import { sourceTextOf } from '../source-texts.js';
import type { OrdinalRange } from '../vector-file.js';
import { inTransaction, type Pool, type Queryable, quoteName, unavailable, vectorLiteral } from './database.js';
import { migrate } from './migrations.js';
import { generationTables, type KeywordStatistics, type StoredDescription, UNDEFINED_TABLE } from './postgres-index.js';

/**
 * Writes a new generation of an index into the database and makes it current in one transaction.
 *
 * The generation gets its own partition of every table; its rows are inserted while it is 'building', which no
 * server reads; its indexes (passage ids, terms, the HNSW graph) are built once its rows are in; then one
 * transaction marks it current, points its index at it and retires the generation it replaces. A crash at any
 * moment before that commit leaves the previous generation current and untouched; the generation left 'building'
 * is removed by a later ingest once its heartbeat is old. Retired generations are removed after the grace period,
 * while servers that have not yet switched may still read them.
 */
export class GenerationWriter {
  private readonly tables: ReturnType<typeof generationTables>;
  private readonly heartbeat: NodeJS.Timeout;
  private chunkRows: Chunk[] = [];
  private vectorRows: string[] = [];
  private dimensions: number | undefined;
  private sourcePosition = 0;
  private written = 0;
  private inflight: Promise<void> | undefined;
  private failure: unknown;

  private constructor(
    private readonly pool: Pool,
    private readonly database: DatabaseConfig,
    private readonly indexName: string,
    readonly generation: number,
  ) {
    this.tables = generationTables(database.schema, generation);
    this.heartbeat = setInterval(() => {
      pool
        .query(`UPDATE ${quoteName(database.schema)}.generations SET heartbeat_at = now() WHERE id = $1`, [generation])
        .catch(() => undefined);
    }, DEFAULTS.database.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * Applies the migrations the database lacks, removes generations that are abandoned or past their grace period,
   * and starts a generation of `indexName`.
   */
  static async begin(pool: Pool, database: DatabaseConfig, indexName: string): Promise<GenerationWriter> {
    try {
      await migrate(pool, database.schema);
      await removeStaleGenerations(pool, database, indexName);
      const s = quoteName(database.schema);
      const created = await pool.query<{ id: number }>(
        `INSERT INTO ${s}.generations (index_name, state, builder) VALUES ($1, 'building', $2) RETURNING id::integer`,
        [indexName, `${os.hostname()}:${process.pid}`],
      );
      const generation = created.rows[0]?.id;
      if (generation === undefined) throw new Error('no generation was created');
      const tables = generationTables(database.schema, generation);
      await inTransaction(pool, async (client) => {
        for (const table of ['sources', 'chunks', 'terms', 'postings', 'term_pairs'] as const) {
          const partition = tables[table === 'term_pairs' ? 'termPairs' : table];
          await client.query(`CREATE TABLE ${partition} PARTITION OF ${s}.${table} FOR VALUES IN (${generation})`);
        }
      });
      return new GenerationWriter(pool, database, indexName, generation);
    } catch (error) {
      throw unavailable(database.url, error);
    }
  }

  /**
   * Adds a document: its row in the list of sources, with its citable text and its census of page furniture (which
   * a later ingest reads to judge it again without reading the file).
   */
  async addSource(document: SourceDocument, chunkCount: number, census: DocumentCensus): Promise<void> {
    const text = sourceTextOf(document);
    const position = this.sourcePosition;
    this.sourcePosition += 1;
    await this.settle();
    await this.pool.query(
      `INSERT INTO ${this.tables.sources}
           (generation, position, source, checksum, title, language, chars, chunk_count, text, sections, pages, census)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        this.generation,
        position,
        document.source,
        document.checksum,
        document.title,
        document.language,
        document.text.length,
        chunkCount,
        text.text,
        JSON.stringify(text.sections),
        text.pages === undefined ? null : JSON.stringify(text.pages),
        JSON.stringify({ names: census.names, blocks: census.blocks }),
      ],
    );
  }

  /**
   * Carries sources of an earlier generation over as they are, at the next positions, in the order given: their rows
   * (citable texts, spans, censuses) are copied inside the database, never read into this process. Returns the page
   * count of each (paged documents).
   */
  async carrySources(from: number, sources: readonly string[]): Promise<Array<number | undefined>> {
    const first = this.sourcePosition;
    this.sourcePosition += sources.length;
    await this.settle();
    const result = await this.pool
      .query<{ source: string; pages: number | null }>(
        `INSERT INTO ${this.tables.sources}
             (generation, position, source, checksum, title, language, chars, chunk_count, text, sections, pages, census)
           SELECT $1, $2 + carried.n - 1, s.source, s.checksum, s.title, s.language, s.chars, s.chunk_count, s.text,
                  s.sections, s.pages, s.census
             FROM unnest($3::text[]) WITH ORDINALITY AS carried(source, n)
             JOIN ${generationTables(this.database.schema, from).sources} s ON s.source = carried.source
         RETURNING source, jsonb_array_length(pages) AS pages`,
        [this.generation, first, sources],
      )
      .catch(carriedFrom(from));
    const pages = new Map(result.rows.map((row) => [row.source, row.pages ?? undefined]));
    const missing = sources.find((source) => !pages.has(source));
    if (missing !== undefined) throw new Error(`generation ${from} holds no source ${missing}`);
    return sources.map((source) => pages.get(source));
  }

  /**
   * Carries passages of an earlier generation over with their vectors, after the passages added so far: the rows of
   * the ordinal range are copied inside the database and renumbered to follow on.
   */
  async carryChunks(from: number, range: OrdinalRange): Promise<void> {
    await this.flushChunks();
    const first = this.written;
    const count = range.end - range.start;
    this.written += count;
    await this.send(async () => {
      const copied = await this.pool
        .query(
          `INSERT INTO ${this.tables.chunks} (generation, ordinal, ${CHUNK_VALUE_COLUMNS})
           SELECT $1, ordinal - $2 + $3, ${CHUNK_VALUE_COLUMNS}
             FROM ${generationTables(this.database.schema, from).chunks}
            WHERE ordinal >= $2 AND ordinal < $4 ORDER BY ordinal`,
          [this.generation, range.start, first, range.end],
        )
        .catch(carriedFrom(from));
      if (copied.rowCount !== count) {
        throw new Error(`generation ${from} holds ${copied.rowCount} of the ${count} passages carried from it`);
      }
    });
  }

  /** Adds the next passage (ordinals follow the order of the calls) with its vector. */
  async addChunk(chunk: Chunk, vector: ArrayLike<number>): Promise<void> {
    this.dimensions ??= vector.length;
    if (vector.length !== this.dimensions) {
      throw new Error(`a vector of ${vector.length} dimensions among vectors of ${this.dimensions}`);
    }
    this.chunkRows.push(chunk);
    this.vectorRows.push(vectorLiteral(vector));
    if (this.chunkRows.length >= DEFAULTS.database.insertBatch) await this.flushChunks();
  }

  /**
   * Writes the keyword index and builds the generation's indexes, then makes it current: in one transaction it is
   * marked current, its index points at it, and the generation it replaces is retired. Returns the replaced one.
   */
  async finish(
    keywords: KeywordIndex,
    description: Omit<IndexDescription, 'sources'>,
    embedderState: unknown,
  ): Promise<number | undefined> {
    try {
      await this.flushChunks();
      await this.settle();
      await this.writeKeywords(keywords);
      const dimensions = description.embedder.dimensions;
      const { m, efConstruction } = DEFAULTS.database.graph;
      await inTransaction(this.pool, async (client) => {
        // More memory makes the graph build faster; SET LOCAL keeps it to this transaction.
        await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
        await client.query(`CREATE INDEX ON ${this.tables.chunks} (id)`);
        await client.query(`CREATE UNIQUE INDEX ON ${this.tables.terms} (term)`);
        await client.query(
          `CREATE INDEX ON ${this.tables.chunks} USING hnsw ((embedding::vector(${dimensions})) vector_cosine_ops)
             WITH (m = ${m}, ef_construction = ${efConstruction})`,
        );
      });
      for (const table of Object.values(this.tables)) await this.pool.query(`ANALYZE ${table}`);
      const layout = keywords.layout;
      const statistics: KeywordStatistics = {
        fields: layout.fields.map(({ name, boost }) => ({ name, boost })),
        documentCount: layout.documentCount,
        averageLengths: [...layout.averageLengths],
      };
      const stored: StoredDescription = description;
      const replaced = await this.switchTo(stored, statistics, embedderState);
      clearInterval(this.heartbeat);
      await removeStaleGenerations(this.pool, this.database, this.indexName);
      return replaced;
    } catch (error) {
      throw unavailable(this.database.url, error);
    }
  }

  /** Removes what was written after a failure (best effort: a generation left behind is removed later). */
  async abandon(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.inflight;
    await removeGeneration(this.pool, this.database.schema, this.generation).catch(() => undefined);
  }

  /** Marks this generation current and retires the one it replaces, in one transaction. */
  private async switchTo(
    description: StoredDescription,
    statistics: KeywordStatistics,
    embedderState: unknown,
  ): Promise<number | undefined> {
    const s = quoteName(this.database.schema);
    return inTransaction(this.pool, async (client) => {
      const own = await client.query<{ state: string }>(`SELECT state FROM ${s}.generations WHERE id = $1 FOR UPDATE`, [
        this.generation,
      ]);
      if (own.rows[0]?.state !== 'building') {
        throw new Error(`generation ${this.generation} was removed while it was being written (taken for abandoned)`);
      }
      await client.query(`INSERT INTO ${s}.indexes (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [this.indexName]);
      const index = await client.query<{ current: number | null }>(
        `SELECT current_generation::integer AS current FROM ${s}.indexes WHERE name = $1 FOR UPDATE`,
        [this.indexName],
      );
      const previous = index.rows[0]?.current ?? undefined;
      if (previous !== undefined) {
        await client.query(`UPDATE ${s}.generations SET state = 'retired', retired_at = now() WHERE id = $1`, [
          previous,
        ]);
      }
      await client.query(
        `UPDATE ${s}.generations
            SET state = 'current', completed_at = now(), heartbeat_at = now(),
                description = $2, keyword_statistics = $3, embedder_state = $4
          WHERE id = $1`,
        [
          this.generation,
          JSON.stringify(description),
          JSON.stringify(statistics),
          JSON.stringify(embedderState ?? null),
        ],
      );
      await client.query(`UPDATE ${s}.indexes SET current_generation = $2, switched_at = now() WHERE name = $1`, [
        this.indexName,
        this.generation,
      ]);
      return previous;
    });
  }

  private async flushChunks(): Promise<void> {
    if (this.chunkRows.length === 0) return;
    const rows = this.chunkRows;
    const vectors = this.vectorRows;
    const first = this.written;
    this.chunkRows = [];
    this.vectorRows = [];
    this.written += rows.length;
    await this.send(() =>
      this.pool.query(
        `INSERT INTO ${this.tables.chunks} (generation, ordinal, ${CHUNK_VALUE_COLUMNS})
         SELECT $1, * FROM unnest($2::integer[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[],
                                  $8::text[], $9::integer[], $10::integer[], $11::integer[], $12::text[], $13::jsonb[],
                                  $14::vector[])`,
        [
          this.generation,
          rows.map((_chunk, index) => first + index),
          rows.map((chunk) => chunk.id),
          rows.map((chunk) => chunk.source),
          rows.map((chunk) => chunk.title),
          rows.map((chunk) => JSON.stringify(chunk.section)),
          rows.map((chunk) => chunk.language),
          rows.map(chunkKind),
          rows.map((chunk) => chunk.page ?? null),
          rows.map((chunk) => chunk.start),
          rows.map((chunk) => chunk.end),
          rows.map((chunk) => chunk.text),
          rows.map((chunk) => JSON.stringify(chunk.sentences)),
          vectors,
        ],
      ),
    );
  }

  /** The terms with their text-field frequencies, the postings by term and field, and the terms by letter pair. */
  private async writeKeywords(keywords: KeywordIndex): Promise<void> {
    const layout = keywords.layout;
    const fieldCount = layout.fields.length;
    const { insertBatch } = DEFAULTS.database;
    for (let from = 0; from < layout.terms.length; from += insertBatch * 10) {
      const ids = Array.from({ length: Math.min(insertBatch * 10, layout.terms.length - from) }, (_, i) => from + i);
      await this.pool.query(
        `INSERT INTO ${this.tables.terms} (generation, id, term, text_frequency)
         SELECT $1, * FROM unnest($2::integer[], $3::text[], $4::integer[])`,
        [
          this.generation,
          ids,
          ids.map((id) => layout.terms[id] ?? ''),
          ids.map(
            (id) => (layout.postingStart[id * fieldCount + 1] ?? 0) - (layout.postingStart[id * fieldCount] ?? 0),
          ),
        ],
      );
    }

    // Postings go as rows of arrays, many to a statement, up to some 100k entries a statement.
    let values: unknown[] = [];
    let placeholders: string[] = [];
    let entries = 0;
    const flush = async () => {
      if (placeholders.length === 0) return;
      await this.pool.query(
        `INSERT INTO ${this.tables.postings} (generation, term_id, field, ordinals, counts, lengths)
         VALUES ${placeholders.join(', ')}`,
        values,
      );
      values = [];
      placeholders = [];
      entries = 0;
    };
    for (let slot = 0; slot < layout.terms.length * fieldCount; slot += 1) {
      const start = layout.postingStart[slot] ?? 0;
      const end = layout.postingStart[slot + 1] ?? 0;
      if (end === start) continue;
      const field = slot % fieldCount;
      const ordinals = Array.from(layout.postingDocuments.subarray(start, end));
      const base = values.length;
      values.push(
        this.generation,
        Math.floor(slot / fieldCount),
        field,
        ordinals,
        Array.from(layout.postingCounts.subarray(start, end)),
        ordinals.map((ordinal) => layout.fieldLengths[ordinal * fieldCount + field] ?? 0),
      );
      placeholders.push(
        `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}::integer[], $${base + 5}::integer[], $${base + 6}::integer[])`,
      );
      entries += end - start;
      if (entries >= 100_000 || placeholders.length >= insertBatch) await flush();
    }
    await flush();

    const { gramKeys, gramStart, gramTerms } = layout.grams.sections();
    for (let from = 0; from < gramKeys.length; from += insertBatch) {
      const batch: unknown[] = [this.generation];
      const rows: string[] = [];
      for (let index = from; index < Math.min(from + insertBatch, gramKeys.length); index += 1) {
        batch.push(
          String(gramKeys[index] ?? 0),
          Array.from(gramTerms.subarray(gramStart[index], gramStart[index + 1])),
        );
        rows.push(`($1, $${batch.length - 1}::bigint, $${batch.length}::integer[])`);
      }
      await this.pool.query(
        `INSERT INTO ${this.tables.termPairs} (generation, pair, term_ids) VALUES ${rows.join(', ')}`,
        batch,
      );
    }
  }

  /**
   * Sends a batch of passages while the next one is being embedded: one insert at most is in flight, and its
   * failure is raised at the next write.
   */
  private async send(write: () => Promise<unknown>): Promise<void> {
    await this.settle();
    this.inflight = write().then(
      () => undefined,
      (error: unknown) => {
        this.failure = error;
      },
    );
  }

  /** Waits for the insert in flight; raises its failure. */
  private async settle(): Promise<void> {
    await this.inflight;
    if (this.failure !== undefined) throw this.failure;
  }
}

/** The columns of a passage's row besides its generation and ordinal: what a carried passage keeps as it is. */
const CHUNK_VALUE_COLUMNS =
  'id, source, title, section, language, kind, page, start_offset, end_offset, text, sentences, embedding';

/**
 * What to raise when copying from an earlier generation fails: the generation may have been removed meanwhile (past
 * its grace period, by another ingest), which running the ingest again gets past.
 */
function carriedFrom(generation: number): (error: unknown) => never {
  return (error) => {
    if ((error as { code?: unknown }).code === UNDEFINED_TABLE) {
      throw new IndexMissingError(
        `The generation ${generation} this ingest carries unchanged files over from was removed meanwhile by ` +
          'another ingest; run the ingest again.',
      );
    }
    throw error;
  };
}

/** The kind of a passage's sentences, or 'mixed'. */
function chunkKind(chunk: Chunk): string {
  const kinds = new Set(chunk.sentences.map((sentence) => sentence.kind));
  return kinds.size === 1 ? ([...kinds][0] ?? 'mixed') : 'mixed';
}

/**
 * Removes, for one index, the generations retired longer ago than the grace period and those left 'building' by
 * an ingest that stopped writing its heartbeat (killed, crashed, or cut off from the database).
 */
export async function removeStaleGenerations(
  pool: Pool,
  database: DatabaseConfig,
  indexName: string,
): Promise<number[]> {
  const s = quoteName(database.schema);
  const stale = await pool.query<{ id: number }>(
    `SELECT id::integer FROM ${s}.generations
      WHERE index_name = $1
        AND ((state = 'retired' AND retired_at <= now() - make_interval(secs => $2))
          OR (state = 'building' AND heartbeat_at <= now() - make_interval(secs => $3)))
      ORDER BY id`,
    [indexName, database.generationGraceSeconds, DEFAULTS.database.abandonedAfterMs / 1000],
  );
  const removed: number[] = [];
  for (const { id } of stale.rows) {
    await removeGeneration(pool, database.schema, id);
    removed.push(id);
  }
  return removed;
}

/** Drops a generation's partitions and its row, in one transaction. */
export async function removeGeneration(database: Queryable & Pool, schema: string, generation: number): Promise<void> {
  const tables = generationTables(schema, generation);
  await inTransaction(database, async (client) => {
    await client.query(`DROP TABLE IF EXISTS ${Object.values(tables).join(', ')}`);
    await client.query(`DELETE FROM ${quoteName(schema)}.generations WHERE id = $1 AND state <> 'current'`, [
      generation,
    ]);
  });
}
