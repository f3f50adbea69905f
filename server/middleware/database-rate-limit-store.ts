import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { Pool } from '../../core/index/postgres/database.js';
import { quoteName } from '../../core/index/postgres/database.js';

/**
 * Rate limits counted in PostgreSQL, so that every server process and machine counts against the same limits: the
 * API's, and each embed's (per embed and per visitor address). One row per limit, client and window, incremented
 * atomically (an upsert locks the row), so a limit holds exactly however many replicas share the database. Windows
 * are fixed and start at a client's first request; rows of windows long over are deleted once a window, by one timer
 * whatever the number of limits.
 */
export class DatabaseRateLimits {
  private readonly table: string;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: Pool,
    schema: string,
  ) {
    this.table = `${quoteName(schema)}.rate_limits`;
  }

  /** The store of one limit, its keys under `prefix`: express-rate-limit takes a store of its own per limiter. */
  store(prefix: string): Store {
    return new DatabaseRateLimitStore(this.pool, this.table, prefix, (windowMs) => this.sweepEvery(windowMs));
  }

  /** Stops deleting old rows. */
  shutdown(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private sweepEvery(windowMs: number): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setInterval(() => {
      this.pool
        .query(`DELETE FROM ${this.table} WHERE reset_at < now() - make_interval(secs => $1)`, [windowMs / 1000])
        .catch(() => undefined);
    }, windowMs);
    this.sweeper.unref();
  }
}

/** An express-rate-limit store of one limit in the shared table (`DatabaseRateLimits.store`). */
class DatabaseRateLimitStore implements Store {
  /** The counts live in the database, shared with other processes. */
  readonly localKeys = false;
  private windowMs = 60_000;

  constructor(
    private readonly pool: Pool,
    private readonly table: string,
    readonly prefix: string,
    private readonly onWindow: (windowMs: number) => void,
  ) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
    this.onWindow(this.windowMs);
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const result = await this.pool.query<{ hits: number; reset_at: Date }>(
      `SELECT hits, reset_at FROM ${this.table} WHERE key = $1 AND reset_at > now()`,
      [this.prefix + key],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : { totalHits: row.hits, resetTime: row.reset_at };
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const result = await this.pool.query<{ hits: number; reset_at: Date }>(
      `INSERT INTO ${this.table} AS counted (key, hits, reset_at)
       VALUES ($1, 1, clock_timestamp() + make_interval(secs => $2))
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN counted.reset_at <= clock_timestamp() THEN 1 ELSE counted.hits + 1 END,
         reset_at = CASE WHEN counted.reset_at <= clock_timestamp()
                         THEN clock_timestamp() + make_interval(secs => $2) ELSE counted.reset_at END
       RETURNING hits, reset_at`,
      [this.prefix + key, this.windowMs / 1000],
    );
    const row = result.rows[0];
    if (row === undefined) throw new Error('the rate limit upsert returned no row');
    return { totalHits: row.hits, resetTime: row.reset_at };
  }

  async decrement(key: string): Promise<void> {
    await this.pool.query(`UPDATE ${this.table} SET hits = greatest(hits - 1, 0) WHERE key = $1`, [this.prefix + key]);
  }

  async resetKey(key: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.table} WHERE key = $1`, [this.prefix + key]);
  }
}
