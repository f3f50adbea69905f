import type { DatabaseConfig, EmbedderConfig } from '../../config.js';
import { DEFAULTS } from '../../defaults.js';
import type { IndexWatcher, WatchOptions } from '../watch-index.js';
import type { IndexDescription } from '../passage-index.js';
import { createPool, describeDatabase, isUnavailable, type Pool, unavailable } from './database.js';
import { removeStaleGenerations } from './generation-writer.js';
import { schemaVersion, SCHEMA_VERSION } from './migrations.js';
import {
  type GenerationRow,
  indexedSources,
  loadPostgresIndex,
  openGeneration,
  type PostgresIndex,
  servedGeneration,
  storedDescriptionSchema,
} from './postgres-index.js';

/** Removing generations past their grace period failed (the generation served is not concerned). */
export class StaleGenerationsError extends Error {
  constructor(cause: unknown) {
    super(`removing generations past their grace period failed: ${(cause as Error).message ?? String(cause)}`, {
      cause,
    });
  }
}

/**
 * The indexes of a PostgreSQL database: one pool per process, shared by the generations it serves one after the
 * other. Servers poll the `indexes` table for the generation their index serves (a primary-key read), which works
 * through poolers and read replicas alike, where LISTEN/NOTIFY does not.
 */
export class PostgresStore {
  readonly location: string;
  readonly pool: Pool;

  constructor(
    readonly database: DatabaseConfig,
    readonly indexName: string,
    private readonly embedder: EmbedderConfig,
    pool?: Pool,
  ) {
    this.location = `index ${indexName} of ${describeDatabase(database.url)}`;
    this.pool = pool ?? createPool(database);
  }

  async describe(): Promise<IndexDescription | undefined> {
    try {
      if ((await schemaVersion(this.pool, this.database.schema)) !== SCHEMA_VERSION) return undefined;
      const row = await this.currentRow();
      if (row === undefined) return undefined;
      const stored = storedDescriptionSchema.safeParse(row.description);
      if (!stored.success) return undefined;
      return { ...stored.data, sources: await indexedSources(this.pool, this.database.schema, row.id) };
    } catch (error) {
      throw unavailable(this.database.url, error);
    }
  }

  load(): Promise<PostgresIndex> {
    return loadPostgresIndex(this.options());
  }

  watch({ current, intervalMs, onIndex, onError }: WatchOptions): IndexWatcher {
    let seen = current;
    let busy = false;
    let down = false;
    let removedAt = 0;
    const check = async () => {
      if (busy) return;
      busy = true;
      try {
        const row = await this.currentRow();
        down = false;
        if (Date.now() - removedAt >= DEFAULTS.database.removeStaleEveryMs) {
          removedAt = Date.now();
          await this.removeStale().catch((error: unknown) => onError(new StaleGenerationsError(error), seen ?? ''));
        }
        if (row === undefined) return;
        const generation = `${this.indexName}@${row.id}`;
        if (generation === seen) return;
        seen = generation;
        try {
          await onIndex(await openGeneration(this.options(), row));
        } catch (error) {
          onError(error, generation);
        }
      } catch (error) {
        // A database that went away is reported once, not at every poll.
        if (!down) onError(unavailable(this.database.url, error), seen ?? this.location);
        down = isUnavailable(error);
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void check(), intervalMs);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  /**
   * Removes this index's generations past their grace period, as an ingest does before it writes: without another
   * ingest they would stay. Servers may do it at the same moment: a generation's tables are dropped in one
   * transaction, with IF EXISTS, so the second finds nothing left to do.
   */
  removeStale(): Promise<number[]> {
    return removeStaleGenerations(this.pool, this.database, this.indexName);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private options() {
    return { pool: this.pool, database: this.database, indexName: this.indexName, embedder: this.embedder };
  }

  /** The generation the index serves now, or undefined when it has none (or the schema does not exist yet). */
  private currentRow(): Promise<GenerationRow | undefined> {
    return servedGeneration(this.pool, this.database.schema, this.indexName);
  }
}
