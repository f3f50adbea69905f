import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { Pool } from '../../core/index/postgres/database.js';
import { quoteName } from '../../core/index/postgres/database.js';

/**
 * An express-rate-limit store in PostgreSQL, so that every server process and machine counts against the same
 * limit: one row per client and window, incremented atomically (an upsert locks the row), so
 * `RATE_LIMIT_PER_MINUTE` holds exactly however many replicas share the database. Windows are fixed and start at
 * a client's first request; rows of windows long over are deleted once a window.
 */
export class DatabaseRateLimitStore implements Store {
  /** The counts live in the database, shared with other processes. */
  readonly localKeys = false;
  readonly prefix: string;
  private windowMs = 60_000;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly table: string;

  constructor(
    private readonly pool: Pool,
    schema: string,
    prefix = 'api:',
  ) {
    this.table = `${quoteName(schema)}.rate_limits`;
    this.prefix = prefix;
  }

  init(options: Options): void {
    this.windowMs = options.windowMs;
    this.sweeper = setInterval(() => {
      this.pool
        .query(`DELETE FROM ${this.table} WHERE reset_at < now() - make_interval(secs => $1)`, [this.windowMs / 1000])
        .catch(() => undefined);
    }, this.windowMs);
    this.sweeper.unref();
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

  shutdown(): void {
    clearInterval(this.sweeper);
  }
}
