import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../core/config.js';
import { openIndexStore } from '../core/index/open-index-store.js';
import { ingest } from '../ingest/build-index.js';
import { runScript, startScript } from '../scripts/lib/run-script.js';
import { dropSchema, scratchSchema, sharedDatabaseUrl } from './helpers/pglite-server.js';
import { createWorkspace, PROJECT_ROOT } from './helpers/test-index.js';

/**
 * Ingest into PostgreSQL, killed at the moments that matter and left to finish: the generation served is always a
 * complete one, the previous until the new one is made current; generations replaced, or abandoned by a killed
 * ingest, are removed once past their grace period.
 */

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Database {
  environment: NodeJS.ProcessEnv;
  config: Config;
  root: string;
  /** Runs a statement in the scratch schema's database. */
  query: <Row extends object>(sql: string, values?: unknown[]) => Promise<Row[]>;
  schema: string;
}

async function database(files?: Record<string, string>, extra: NodeJS.ProcessEnv = {}): Promise<Database> {
  const url = await sharedDatabaseUrl();
  const schema = scratchSchema('ingest');
  const workspace = await createWorkspace(files);
  cleanups.push(() => workspace.cleanup());
  cleanups.push(() => dropSchema(url, schema).catch(() => undefined));
  const environment = {
    INDEX_STORE: 'postgres',
    DATABASE_URL: url,
    DATABASE_SCHEMA: schema,
    CORPUS_DIR: path.join(workspace.root, 'corpus'),
    OPENAI_API_KEY: '',
    ...extra,
  };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  cleanups.push(() => client.end());
  return {
    environment,
    config: parseConfig(environment, PROJECT_ROOT),
    root: workspace.root,
    schema,
    query: async <Row extends object>(sql: string, values: unknown[] = []) =>
      (await client.query<Row>(sql, values)).rows,
  };
}

/** The generation served and its passage count, as a server would load it. */
async function served(config: Config): Promise<{ generation: string; chunks: number }> {
  const store = openIndexStore(config);
  try {
    const index = await store.load();
    return { generation: index.generation, chunks: index.chunkCount };
  } finally {
    await store.close();
  }
}

function generations(db: Database): Promise<Array<{ id: number; state: string }>> {
  return db.query(`SELECT id::integer, state FROM "${db.schema}".generations ORDER BY id`);
}

/** The generation's partitions that exist. */
async function partitions(db: Database): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND tablename ~ '_g[0-9]+$' ORDER BY 1`,
    [db.schema],
  );
  return rows.map((row) => row.name);
}

describe('ingest into PostgreSQL', () => {
  // Each kill is placed by what the run has written in the database: its generation, its first documents, its
  // keyword index (its passages all in, the HNSW graph and the switch to come).
  it('leaves the previous generation served when killed at any moment', async () => {
    const files: Record<string, string> = {};
    for (let document = 0; document < 20; document += 1) {
      files[`corpus/doc-${document}.md`] =
        `# Document ${document}\n\n${`Une phrase sur le sujet numéro ${document} et ses suites. `.repeat(10)}`;
    }
    const db = await database(files);
    const full = await runScript('ingest/main.ts', { env: db.environment });
    expect(full.code, full.stderr).toBe(0);
    const first = await served(db.config);
    await writeFile(path.join(db.root, 'corpus', 'extra.md'), '# Extra\n\nUn document de plus.');

    let before = new Set<number>();
    /** The generations the run under way is building (not those a killed run left). */
    const building = async () =>
      (await generations(db)).filter((row) => row.state === 'building' && !before.has(row.id)).map((row) => row.id);
    /** Whether the generation being built has rows in a table (its partition). */
    const rowsIn = async (table: string) => {
      const [id] = await building();
      if (id === undefined) return false;
      const [row] = await db
        .query<{ count: number }>(`SELECT count(*)::integer AS count FROM "${db.schema}"."${table}_g${id}"`)
        .catch(() => [{ count: 0 }]);
      return (row?.count ?? 0) > 0;
    };
    const moments: Array<{ name: string; reached: () => Promise<boolean> }> = [
      { name: 'generation created', reached: async () => (await building()).length > 0 },
      { name: 'documents being written', reached: () => rowsIn('sources') },
      { name: 'passages written, keyword index being written', reached: () => rowsIn('terms') },
    ];
    const killed: string[] = [];
    for (const { name, reached } of moments) {
      before = new Set((await generations(db)).map((row) => row.id));
      const script = startScript('ingest/main.ts', { env: db.environment });
      while (script.child.exitCode === null && !(await reached())) await new Promise((r) => setTimeout(r, 10));
      script.child.kill('SIGKILL');
      const run = await script.exited;
      const now = await served(db.config);
      if (run.signal === 'SIGKILL') {
        killed.push(name);
        // The previous generation, whole, or the new one if the kill came after its switch.
        if (now.generation === first.generation) expect(now.chunks, name).toBe(first.chunks);
        else expect(now.chunks, name).toBe(first.chunks + 1);
      } else {
        expect(run.code, run.stderr).toBe(0);
        expect(now.chunks).toBe(first.chunks + 1);
      }
      // What a killed run began is never served.
      const states = await generations(db);
      for (const row of states.filter((entry) => !before.has(entry.id) && entry.state === 'building')) {
        expect(now.generation).not.toBe(`default@${row.id}`);
      }
    }
    expect(killed.length, killed.join(', ')).toBeGreaterThanOrEqual(2);

    // The next complete run is served, beside what the killed ones left, which a later run removes once their
    // heartbeat is old: here made old by hand rather than waited for.
    const last = await runScript('ingest/main.ts', { env: db.environment });
    expect(last.code, last.stderr).toBe(0);
    expect((await served(db.config)).chunks).toBe(first.chunks + 1);
    await db.query(
      `UPDATE "${db.schema}".generations SET heartbeat_at = now() - interval '1 day' WHERE state = 'building'`,
    );
    await ingest({ ...db.config, database: { ...db.config.database!, generationGraceSeconds: 0 } });
    const states = await generations(db);
    expect(states.map((row) => row.state)).toEqual(['current']);
    expect((await partitions(db)).map((name) => name.replace(/.*_g/, ''))).toEqual(
      Array.from({ length: 5 }, () => String(states[0]?.id)),
    );
  }, 240_000);

  it('keeps a replaced generation readable through its grace period, and removes it after', async () => {
    const db = await database(undefined, { GENERATION_GRACE_SECONDS: '3600' });
    await ingest(db.config);
    const store = openIndexStore(db.config);
    cleanups.push(() => store.close());
    const first = await store.load();
    await ingest(db.config);
    await ingest(db.config);
    // Within the grace period: both replaced generations are kept, and one that a server still holds answers.
    expect((await generations(db)).map((row) => row.state)).toEqual(['retired', 'retired', 'current']);
    expect((await first.keywordSearch('commandement Wiesbaden', 3)).length).toBeGreaterThan(0);
    // Past it (an hour later, made so by hand), the next ingest removes them.
    await db.query(`UPDATE "${db.schema}".generations SET retired_at = now() - interval '2 hours'`);
    await ingest(db.config);
    expect((await generations(db)).map((row) => row.state)).toEqual(['retired', 'current']);
    expect(new Set((await partitions(db)).map((name) => name.replace(/.*_g/, ''))).size).toBe(2);
    // A server still on a removed generation is told to retry, not failed with a database error.
    await expect(first.keywordSearch('commandement Wiesbaden', 3)).rejects.toMatchObject({
      status: 503,
      code: 'index_unavailable',
    });
  });
});
