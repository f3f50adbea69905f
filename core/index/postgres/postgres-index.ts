import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import { z } from 'zod';
import type { DatabaseConfig, EmbedderConfig } from '../../config.js';
import { DEFAULTS } from '../../defaults.js';
import { embedderId, restoreEmbeddings } from '../../embeddings/create-embeddings.js';
import { IndexMismatchError, IndexMissingError, IndexUnavailableError } from '../../errors.js';
import { analyzeQuestion } from '../../text/analyze.js';
import type { Chunk, SourceText } from '../../types.js';
import { gramsOf, GramIndex } from '../fuzzy-terms.js';
import { allowedEdits, fuzzyMatchWeight } from '../keyword-index.js';
import { chunkSchema, INDEX_FORMAT_VERSION, manifestSchema } from '../manifest.js';
import type { IndexDescription, IndexedSource, PassageIndex, SearchHit } from '../passage-index.js';
import { type Pool, type Queryable, quoteName, unavailable, vectorLiteral } from './database.js';
import { checkSchema, schemaVersion } from './migrations.js';

/**
 * A generation of an index in PostgreSQL, read through the passage index interface: keyword search is BM25 computed
 * by the database over the postings ingest wrote (the folder store's scoring, fuzzy matches included), vector search
 * is pgvector's HNSW index, passages and source texts are rows. The server holds only the list of sources and small
 * caches; any number of servers read the same generation.
 */

/** The tables of one generation: each table's partition for it. */
export function generationTables(schema: string, generation: number) {
  const s = quoteName(schema);
  const part = (table: string) => `${s}.${quoteName(`${table}_g${generation}`)}`;
  return {
    sources: part('sources'),
    chunks: part('chunks'),
    terms: part('terms'),
    postings: part('postings'),
    termPairs: part('term_pairs'),
  };
}

/** The description of a generation, as stored: an index description without its sources. */
export const storedDescriptionSchema = manifestSchema.omit({ files: true, sources: true });
export type StoredDescription = z.infer<typeof storedDescriptionSchema>;

/** BM25's statistics of a generation's keyword index. */
export const keywordStatisticsSchema = z.object({
  fields: z.array(z.object({ name: z.string(), boost: z.number() })),
  documentCount: z.number().int().nonnegative(),
  averageLengths: z.array(z.number()),
});
export type KeywordStatistics = z.infer<typeof keywordStatisticsSchema>;

/** A generation as the `generations` table describes it. */
export interface GenerationRow {
  id: number;
  description: unknown;
  keyword_statistics: unknown;
  embedder_state: unknown;
}

export interface PostgresIndexOptions {
  pool: Pool;
  database: DatabaseConfig;
  indexName: string;
  embedder: EmbedderConfig;
}

/**
 * Loads the generation the index `indexName` serves. Throws DatabaseUnavailableError when the database does not
 * answer, DatabaseSchemaError when its schema is not this version's, IndexMissingError when no generation was
 * ingested, IndexMismatchError when it was built with another embedder or format.
 */
export async function loadPostgresIndex(options: PostgresIndexOptions): Promise<PostgresIndex> {
  const { pool, database, indexName } = options;
  try {
    // A database no ingest has written to yet is an index not built yet: servers wait for it, answering 503.
    if ((await schemaVersion(pool, database.schema)) === 0) throw missing(indexName);
    await checkSchema(pool, database.schema);
    const row = await servedGeneration(pool, database.schema, indexName);
    if (row === undefined) throw missing(indexName);
    return await openGeneration(options, row);
  } catch (error) {
    throw unavailable(database.url, error);
  }
}

/**
 * The generation the index `indexName` serves, or undefined when it has none (or the schema does not exist yet): a
 * primary-key read of the `indexes` row, what servers poll.
 */
export async function servedGeneration(
  database: Queryable,
  schema: string,
  indexName: string,
): Promise<GenerationRow | undefined> {
  const s = quoteName(schema);
  try {
    const result = await database.query<GenerationRow>(
      `SELECT g.id::integer AS id, g.description, g.keyword_statistics, g.embedder_state
         FROM ${s}.indexes i JOIN ${s}.generations g ON g.id = i.current_generation
        WHERE i.name = $1`,
      [indexName],
    );
    return result.rows[0];
  } catch (error) {
    if ((error as { code?: unknown }).code === UNDEFINED_TABLE) return undefined;
    throw error;
  }
}

/** The sources of a generation, in path order, as an index lists them. */
export async function indexedSources(
  database: Queryable,
  schema: string,
  generation: number,
): Promise<IndexedSource[]> {
  const result = await database.query<IndexedSource>(
    `SELECT source, checksum, title, language, chars, chunk_count AS chunks
       FROM ${generationTables(schema, generation).sources} ORDER BY position`,
  );
  return result.rows;
}

/** A source's citable text in a generation, with its section (and page) spans; undefined when it holds none. */
export async function readSourceText(
  database: Queryable,
  schema: string,
  generation: number,
  source: string,
): Promise<SourceText | undefined> {
  const result = await database.query<Omit<SourceText, 'pages'> & { pages: SourceText['pages'] | null }>(
    `SELECT source, title, language, text, sections, pages FROM ${generationTables(schema, generation).sources}
      WHERE source = $1`,
    [source],
  );
  const row = result.rows[0];
  if (row === undefined) return undefined;
  const { pages, ...text } = row;
  return pages === null || pages === undefined ? text : { ...text, pages };
}

/** PostgreSQL's error code for a table that does not exist (a generation removed, a schema not created). */
export const UNDEFINED_TABLE = '42P01';

function missing(indexName: string): IndexMissingError {
  return new IndexMissingError(
    `The database holds no index named ${indexName} yet. Build it with \`npm run ingest\` (INDEX_STORE=postgres).`,
  );
}

/** Opens a generation given its row: reads its sources and restores its question embedder. */
export async function openGeneration(options: PostgresIndexOptions, row: GenerationRow): Promise<PostgresIndex> {
  const { pool, database, indexName, embedder } = options;
  const stored = storedDescriptionSchema.parse(row.description);
  const where = `the index ${indexName} of the database (generation ${row.id})`;
  if (stored.formatVersion !== INDEX_FORMAT_VERSION) {
    throw new IndexMismatchError(
      `${where} has format ${stored.formatVersion}, this version reads ${INDEX_FORMAT_VERSION}. Re-run \`npm run ingest\`.`,
    );
  }
  const expected = embedderId(embedder);
  if (stored.embedder.id !== expected) {
    throw new IndexMismatchError(
      `${where} was built with the embedder "${stored.embedder.id}", but the configuration asks for "${expected}". ` +
        'Re-run `npm run ingest` to rebuild it.',
    );
  }
  const sources = await indexedSources(pool, database.schema, row.id);
  const embeddings = await restoreEmbeddings(embedder, row.embedder_state);
  return new PostgresIndex(
    options,
    row.id,
    { ...stored, sources },
    keywordStatisticsSchema.parse(row.keyword_statistics),
    embeddings,
  );
}

/** A passage's row, as `CHUNK_COLUMNS` selects it. */
export interface ChunkRow {
  ordinal: number;
  id: string;
  source: string;
  title: string;
  section: string[];
  language: 'fr' | 'en';
  page: number | null;
  start_offset: number;
  end_offset: number;
  text: string;
  sentences: Chunk['sentences'];
}

/** The columns of a passage's row that make its chunk (`toChunk`). */
export const CHUNK_COLUMNS =
  'ordinal, id, source, title, section, language, page, start_offset, end_offset, text, sentences';

/** A generation of an index in the database, read on demand. */
export class PostgresIndex implements PassageIndex {
  readonly generation: string;
  private readonly tables: ReturnType<typeof generationTables>;
  private readonly names: ReadonlySet<string>;
  private readonly chunkCache = new AsyncCache<string, Chunk | undefined>(DEFAULTS.database.cachedRows);
  private readonly frequencyCache = new AsyncCache<string, number>(DEFAULTS.database.cachedRows);
  private readonly expansionCache = new AsyncCache<string, Array<[number, number]>>(DEFAULTS.database.cachedRows);

  constructor(
    private readonly options: PostgresIndexOptions,
    readonly generationId: number,
    readonly description: IndexDescription,
    private readonly keywords: KeywordStatistics,
    private readonly embeddings: EmbeddingsInterface,
  ) {
    this.generation = `${options.indexName}@${generationId}`;
    this.tables = generationTables(options.database.schema, generationId);
    this.names = new Set(description.sources.map((entry) => entry.source));
  }

  get chunkCount(): number {
    return this.description.chunkCount;
  }

  get sources(): readonly IndexedSource[] {
    return this.description.sources;
  }

  async sourceText(source: string): Promise<SourceText | undefined> {
    if (!this.names.has(source)) return undefined;
    try {
      return await readSourceText(this.options.pool, this.options.database.schema, this.generationId, source);
    } catch (error) {
      throw this.failure(error);
    }
  }

  async chunks(ids: readonly string[]): Promise<Array<Chunk | undefined>> {
    return this.chunkCache.getMany(ids, async (missing) => {
      const result = await this.query<ChunkRow>(
        `SELECT ${CHUNK_COLUMNS} FROM ${this.tables.chunks} WHERE id = ANY($1) ORDER BY ordinal`,
        [missing],
      );
      const found = new Map<string, Chunk | undefined>(missing.map((id) => [id, undefined]));
      // Two passages may share an id (the same text twice in a document): the first one answers, as on disk.
      for (const row of result.rows) if (found.get(row.id) === undefined) found.set(row.id, toChunk(row));
      return found;
    });
  }

  async *allChunks(): AsyncGenerator<Chunk> {
    const page = 1000;
    for (let from = 0; ;) {
      const result = await this.query<ChunkRow>(
        `SELECT ${CHUNK_COLUMNS} FROM ${this.tables.chunks} WHERE ordinal >= $1 ORDER BY ordinal LIMIT $2`,
        [from, page],
      );
      for (const row of result.rows) yield toChunk(row);
      if (result.rows.length < page) return;
      from = (result.rows.at(-1)?.ordinal ?? from) + 1;
    }
  }

  /**
   * BM25 over the postings, as the folder store scores it: each question stem with its fuzzy matches, both fields
   * (the title and section path at half weight), the score multiplied by the number of question stems matched.
   */
  async keywordSearch(question: string, limit: number): Promise<SearchHit[]> {
    const stems = [...new Set(analyzeQuestion(question).flatMap((term) => term.stems))];
    if (stems.length === 0 || limit <= 0) return [];
    const expansions = await this.expansionCache.getMany(stems, (missing) => this.expand(missing));
    const termIds: number[] = [];
    const questionTerms: number[] = [];
    const weights: number[] = [];
    stems.forEach((_stem, position) => {
      for (const [termId, weight] of expansions[position] ?? []) {
        termIds.push(termId);
        questionTerms.push(position);
        weights.push(weight);
      }
    });
    if (termIds.length === 0) return [];
    const { k, b, d } = DEFAULTS.keyword.bm25;
    const { documentCount, averageLengths, fields } = this.keywords;
    const result = await this.query<{ id: string; score: number }>(
      `WITH asked AS (
         SELECT * FROM unnest($1::integer[], $2::integer[], $3::float8[]) AS asked(term_id, question_term, weight)
       ),
       scored AS (
         SELECT hit.ordinal, asked.question_term,
                asked.weight * ($4::float8[])[p.field + 1]
                  * ln(1 + ($5::float8 - cardinality(p.ordinals) + 0.5) / (cardinality(p.ordinals) + 0.5))
                  * ($6::float8 + (hit.count * ($7::float8 + 1))
                      / (hit.count + $7::float8 * (1 - $8::float8 + $8::float8 * hit.length / ($9::float8[])[p.field + 1])))
                  AS score
           FROM asked
           JOIN ${this.tables.postings} p ON p.term_id = asked.term_id
           CROSS JOIN LATERAL unnest(p.ordinals, p.counts, p.lengths) AS hit(ordinal, count, length)
       ),
       best AS (
         SELECT ordinal, sum(score) * count(DISTINCT question_term) AS score
           FROM scored GROUP BY ordinal ORDER BY score DESC, ordinal LIMIT $10
       )
       SELECT c.id, best.score FROM best JOIN ${this.tables.chunks} c ON c.ordinal = best.ordinal
        ORDER BY best.score DESC, best.ordinal`,
      [
        termIds,
        questionTerms,
        weights,
        fields.map((field) => field.boost),
        documentCount,
        d,
        k,
        b,
        averageLengths.map((length) => (length > 0 ? length : 1)),
        limit,
      ],
    );
    return result.rows.map((row) => ({ chunkId: row.id, score: Number(row.score) }));
  }

  async vectorSearch(question: string, limit: number): Promise<SearchHit[]> {
    const vector = await this.embeddings.embedQuery(question);
    const dimensions = this.description.embedder.dimensions;
    const cast = `::vector(${dimensions})`;
    const result = await this.query<{ id: string; distance: number }>(
      `SELECT id, embedding${cast} <=> $1${cast} AS distance FROM ${this.tables.chunks}
        ORDER BY embedding${cast} <=> $1${cast} LIMIT $2`,
      [vectorLiteral(vector), limit],
      true,
    );
    // pgvector gives the cosine distance; retrieval speaks of similarity.
    return result.rows.map((row) => ({ chunkId: row.id, score: 1 - Number(row.distance) }));
  }

  async documentFrequencies(stems: readonly string[]): Promise<ReadonlyMap<string, number>> {
    const unique = [...new Set(stems)];
    const counts = await this.frequencyCache.getMany(unique, async (missing) => {
      const result = await this.query<{ term: string; frequency: number }>(
        `SELECT term, text_frequency AS frequency FROM ${this.tables.terms} WHERE term = ANY($1)`,
        [missing],
      );
      const found = new Map(missing.map((stem) => [stem, 0]));
      for (const row of result.rows) found.set(row.term, row.frequency);
      return found;
    });
    return new Map(unique.map((stem, position) => [stem, counts[position] ?? 0]));
  }

  async check(): Promise<void> {
    await this.query('SELECT 1');
  }

  /** The pool belongs to the store, which serves generation after generation: nothing to release here. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The index terms each question stem matches, with their weights: itself (1), and for a stem of five letters or
   * more the terms within an edit for every five letters, found by shared letter pairs and checked by edit distance.
   */
  private async expand(stems: readonly string[]): Promise<Map<string, Array<[number, number]>>> {
    const pairStems: number[] = [];
    const pairs: string[] = [];
    // The fewest letter pairs a candidate of each stem shares with it (a stem too short to match fuzzily has none).
    const minimum = stems.map((stem, position) => {
      const edits = allowedEdits(stem);
      if (edits === 0) return 0;
      for (const pair of gramsOf(stem)) {
        pairStems.push(position + 1);
        pairs.push(String(pair));
      }
      return GramIndex.minSharedPairs(stem.length, edits);
    });
    const result = await this.query<{ stem: number; term_id: number; term: string; shared: number }>(
      `SELECT asked.stem::integer AS stem, t.id AS term_id, t.term, -1 AS shared
         FROM unnest($1::text[]) WITH ORDINALITY AS asked(term, stem)
         JOIN ${this.tables.terms} t ON t.term = asked.term
       UNION ALL
       SELECT counted.stem, t.id, t.term, counted.shared::integer
         FROM (
           SELECT asked.stem, candidate.term_id, count(*) AS shared
             FROM unnest($2::integer[], $3::bigint[]) AS asked(stem, pair)
             JOIN ${this.tables.termPairs} p ON p.pair = asked.pair
             CROSS JOIN LATERAL unnest(p.term_ids) AS candidate(term_id)
            GROUP BY asked.stem, candidate.term_id
           HAVING count(*) >= ($4::integer[])[asked.stem]
         ) counted
         JOIN ${this.tables.terms} t ON t.id = counted.term_id`,
      [stems, pairStems, pairs, minimum],
    );
    const expansions = new Map<string, Array<[number, number]>>(stems.map((stem) => [stem, []]));
    const exact = new Map<string, number>();
    for (const row of result.rows) if (row.shared < 0) exact.set(stems[row.stem - 1] ?? '', row.term_id);
    for (const [stem, termId] of exact) expansions.get(stem)?.push([termId, 1]);
    for (const row of result.rows) {
      const stem = stems[row.stem - 1];
      if (row.shared < 0 || stem === undefined || row.term_id === exact.get(stem)) continue;
      const edits = allowedEdits(stem);
      if (!GramIndex.mayBeWithin(stem.length, row.term.length, row.shared, edits)) continue;
      const weight = fuzzyMatchWeight(stem, row.term, edits);
      if (weight !== undefined) expansions.get(stem)?.push([row.term_id, weight]);
    }
    return expansions;
  }

  /** One statement against the generation's tables; a failure is what `failure` makes of it. */
  private async query<Row extends object>(
    sql: string,
    values: unknown[] = [],
    searchesGraph = false,
  ): Promise<{ rows: Row[] }> {
    try {
      if (!searchesGraph) return await this.options.pool.query<Row>(sql, values);
      const client = await this.options.pool.connect();
      try {
        // A connection searches the HNSW graph as widely as the folder store does; set once per connection.
        if (!graphConnections.has(client)) {
          await client.query(`SET hnsw.ef_search = ${DEFAULTS.database.efSearch}`);
          graphConnections.add(client);
        }
        return await client.query<Row>(sql, values);
      } finally {
        client.release();
      }
    } catch (error) {
      throw this.failure(error);
    }
  }

  /**
   * What a failed read means to the client: a database that does not answer is a 503; a generation whose tables
   * were removed (a server that missed the switch past the grace period) asks the client to retry, while the
   * watcher moves to the current one.
   */
  private failure(error: unknown): unknown {
    if ((error as { code?: unknown }).code === UNDEFINED_TABLE) {
      return new IndexUnavailableError(
        `The index generation ${this.generation} was replaced and removed; retry in a moment.`,
      );
    }
    return unavailable(this.options.database.url, error);
  }
}

/** Connections whose HNSW search breadth is set. */
const graphConnections = new WeakSet<object>();

/** A passage from its row: the chunk ingest split, with its page when it has one. */
export function toChunk(row: ChunkRow): Chunk {
  const chunk = {
    id: row.id,
    source: row.source,
    title: row.title,
    section: row.section,
    language: row.language,
    text: row.text,
    start: row.start_offset,
    end: row.end_offset,
    sentences: row.sentences,
    ...(row.page === null ? {} : { page: row.page }),
  };
  return chunkSchema.parse(chunk) as Chunk;
}

/**
 * A bounded cache of values read in batches: `getMany` reads the keys it lacks with one call of `read`. A
 * generation never changes, so what was read stays true.
 */
class AsyncCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  async getMany(keys: readonly K[], read: (missing: K[]) => Promise<Map<K, V>>): Promise<V[]> {
    const missing = [...new Set(keys.filter((key) => !this.entries.has(key)))];
    if (missing.length > 0) {
      const found = await read(missing);
      for (const key of missing) {
        if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as K);
        this.entries.set(key, found.get(key) as V);
      }
    }
    return keys.map((key) => {
      const value = this.entries.get(key) as V;
      // Most recently used last: the first key is the one to drop.
      this.entries.delete(key);
      this.entries.set(key, value);
      return value;
    });
  }
}
