import pg from 'pg';
import type { DatabaseConfig } from '../../config.js';
import { DatabaseUnavailableError } from '../../errors.js';

/**
 * The connection pool to the PostgreSQL database (node-postgres), and what its failures mean to a person.
 * Everything the product keeps in the database lives in one schema (`DATABASE_SCHEMA`), whose name every statement
 * spells out: a connection's search path is not something to rely on behind a pooler.
 */

export type Pool = pg.Pool;
export type Queryable = pg.Pool | pg.PoolClient;

/**
 * Opens a pool (connections are made on demand). An idle connection that breaks (the database restarted) is
 * reported to `onIdleError` and replaced at the next query: it must never bring the process down. Statements are
 * bounded by `queryTimeoutMs` (`DATABASE_QUERY_TIMEOUT_MS`, for questions); 0 leaves them unbounded, for an ingest
 * whose index builds take as long as the corpus needs.
 */
export function createPool(
  config: DatabaseConfig,
  onIdleError: (error: Error) => void = () => undefined,
  max = config.poolMax,
  queryTimeoutMs = config.queryTimeoutMs,
): Pool {
  const pool = new pg.Pool({
    connectionString: config.url,
    max,
    connectionTimeoutMillis: config.connectTimeoutMs,
    // The database cancels a statement past the bound; the client stops waiting a little later, for a database
    // that stopped answering altogether.
    ...(queryTimeoutMs === 0 ? {} : { statement_timeout: queryTimeoutMs, query_timeout: queryTimeoutMs + 2_000 }),
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    // A command (ingest, eval) ends once its work is done; a server is kept alive by its listening socket.
    allowExitOnIdle: true,
    application_name: 'cited-answers',
  });
  pool.on('error', onIdleError);
  return pool;
}

/** A SQL identifier, quoted: names come from validated configuration, never from a request. */
export function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The connection string without its password, to name the database in messages and logs. */
export function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'the database of DATABASE_URL';
  }
}

/** Error codes of a database that cannot be reached, went away, or stopped answering in time. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
]);

/** Whether an error says the database is unreachable (rather than that a statement is wrong). */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNREACHABLE.has(code)) return true;
    // Connection exceptions (08…), shutdown and start-up (57P0…), statement timeout (57014), too many connections.
    if (code.startsWith('08') || code.startsWith('57P') || code === '57014' || code === '53300') return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|not queryable|Too many connections/i.test(
    error.message,
  );
}

/**
 * Runs a database operation; an unreachable database becomes a `DatabaseUnavailableError` (a 503 with a message
 * that names the database without its password), anything else is rethrown as it is.
 */
export async function withDatabase<T>(url: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw unavailable(url, error);
  }
}

/** The error to raise for a failed database operation: a `DatabaseUnavailableError` when it could not answer. */
export function unavailable(url: string, error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError || !isUnavailable(error)) return error;
  const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return new DatabaseUnavailableError(
    `The database ${describeDatabase(url)} does not answer (${reason}). Check that it is running and that ` +
      'DATABASE_URL names it.',
  );
}

/** Runs `work` in a transaction on one connection: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(pool: Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollback: unknown) => {
      broken = rollback instanceof Error ? rollback : new Error(String(rollback));
    });
    throw error;
  } finally {
    // A connection whose rollback failed is broken: the pool must not hand it out again.
    client.release(broken);
  }
}

/** A vector as pgvector's text form, `[0.1,0.2,…]`. */
export function vectorLiteral(vector: ArrayLike<number>): string {
  let text = '[';
  for (let index = 0; index < vector.length; index += 1) {
    if (index > 0) text += ',';
    const value = vector[index] ?? 0;
    // Nine significant digits hold a 32-bit float exactly; zeros, frequent in hashed vectors, stay one character.
    text += value === 0 ? '0' : String(Number(value.toPrecision(9)));
  }
  return `${text}]`;
}
