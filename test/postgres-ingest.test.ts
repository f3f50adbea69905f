import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../core/config.js';
import { DatabaseUnavailableError, IndexMissingError } from '../core/errors.js';
import { openIndexStore } from '../core/index/open-index-store.js';
import { collect } from '../core/index/passage-index.js';
import { createPool } from '../core/index/postgres/database.js';
import { GenerationWriter } from '../core/index/postgres/generation-writer.js';
import { openPostgresGeneration } from '../core/index/postgres/postgres-generation.js';
import { embeddedText } from '../core/index/vector-index.js';
import type { Chunk } from '../core/types.js';
import { ingest, planChanges } from '../ingest/build-index.js';
import { READER_VERSION } from '../ingest/load-documents.js';
import { runScript, startScript } from '../scripts/lib/run-script.js';
import { fakeEmbedding, startOpenAiWireServer } from './helpers/openai-wire-server.js';
import { dropSchema, scratchSchema, sharedDatabaseUrl } from './helpers/pglite-server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
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
  // Each kill is placed by what the run has written in the database: its generation, its first documents (carried
  // over or read), its passages, its keyword index (its passages all in, the HNSW graph and the switch to come). The
  // runs killed update the generation served: one file added, the others' rows carried over.
  it('leaves the previous generation served when an update is killed at any moment', async () => {
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

    // An update, against the first generation or against one a run made current before it was killed.
    const updated =
      /Updated the index: (1 added, 0 changed, 0 removed, 20|0 added, 0 changed, 0 removed, 21) unchanged\./;
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
      { name: 'passages being written', reached: () => rowsIn('chunks') },
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
        expect(run.stdout).toMatch(updated);
        expect(now.chunks).toBe(first.chunks + 1);
      }
      // What a killed run began is never served.
      const states = await generations(db);
      for (const row of states.filter((entry) => !before.has(entry.id) && entry.state === 'building')) {
        expect(now.generation).not.toBe(`default@${row.id}`);
      }
    }
    expect(killed.length, killed.join(', ')).toBeGreaterThanOrEqual(3);

    // The next complete run is served, beside what the killed ones left, which a later run removes once their
    // heartbeat is old: here made old by hand rather than waited for.
    const last = await runScript('ingest/main.ts', { env: db.environment });
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toMatch(updated);
    // The passages of the first generation's 20 files (and of the added one, once a run made it current) were carried.
    expect(last.stdout).toMatch(
      new RegExp(`Indexed ${first.chunks + 1} chunk\\(s\\) \\((${first.chunks}|${first.chunks + 1}) carried over,`),
    );
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

  it('has a serving process remove the generations past their grace period when no ingest comes', async () => {
    const db = await database(undefined, { GENERATION_GRACE_SECONDS: '3600' });
    await ingest(db.config);
    await ingest(db.config);
    const store = openIndexStore(db.config);
    cleanups.push(() => store.close());
    const index = await store.load();
    const errors: unknown[] = [];
    const watch = () =>
      store.watch({
        current: index.generation,
        intervalMs: 20,
        onIndex: () => {},
        onError: (error) => errors.push(error),
      });
    // Within the grace period, watching removes nothing.
    const early = watch();
    await new Promise((resolve) => setTimeout(resolve, 300));
    early.stop();
    expect((await generations(db)).map((row) => row.state)).toEqual(['retired', 'current']);
    // Past it, a watching server removes the replaced generation and its tables, and keeps serving its own.
    await db.query(`UPDATE "${db.schema}".generations SET retired_at = now() - interval '2 hours'`);
    const late = watch();
    const deadline = Date.now() + 10_000;
    while ((await generations(db)).length > 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    late.stop();
    expect((await generations(db)).map((row) => row.state)).toEqual(['current']);
    expect(new Set((await partitions(db)).map((name) => name.replace(/.*_g/, ''))).size).toBe(1);
    expect((await index.keywordSearch('commandement Wiesbaden', 3)).length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });
});

describe('updating the generation a database serves', () => {
  const files = {
    'corpus/a.md': '# A\n\nUn premier document.\n',
    'corpus/b.md': '# B\n\nUn deuxième document.\n',
    'corpus/c.md': '# C\n\nUn troisième document.\n',
  };

  it('says what it updates, as with the folder store: --dry-run, an update, --full and --if-stale', async () => {
    const db = await database(files);
    const ingestCommand = (...args: string[]) => runScript('ingest/main.ts', { args, env: db.environment });
    const dry = await ingestCommand('--dry-run');
    expect(dry.stdout).toMatch(/Would rebuild the whole index \(there is no index yet\): 3 added/);
    // A dry run writes nothing, not even the schema.
    expect(await generations(db).catch(() => 'no schema')).toBe('no schema');
    const first = await ingestCommand();
    expect(first.stdout).toMatch(/Rebuilt the whole index \(there is no index yet\): 3 added, 0 changed/);
    expect(first.stdout).toMatch(/Indexed 3 chunk\(s\) \(0 carried over, 3 embedded\)/);

    await writeFile(path.join(db.root, 'corpus', 'b.md'), '# B\n\nUn deuxième document, revu.\n');
    await rm(path.join(db.root, 'corpus', 'c.md'));
    await writeFile(path.join(db.root, 'corpus', 'd.md'), '# D\n\nUn quatrième document.\n');
    const planned = await ingestCommand('--dry-run');
    expect(planned.stderr).toBe('');
    expect(planned.stdout).toBe(
      [
        'Dry run: nothing is written to the index default.',
        '  added      corpus/d.md',
        '  changed    corpus/b.md',
        '  removed    corpus/c.md',
        '  unchanged  corpus/a.md',
        'Would update the index: 1 added, 1 changed, 1 removed, 1 unchanged.',
        '',
      ].join('\n'),
    );
    expect((await generations(db)).map((row) => row.state)).toEqual(['current']);
    const update = await ingestCommand();
    expect(update.stdout).toMatch(/Updated the index: 1 added, 1 changed, 1 removed, 1 unchanged\./);
    // The lexical embedder's weights are fitted on the whole corpus: every vector is computed again.
    expect(update.stdout).toMatch(/Indexed 3 chunk\(s\) \(1 carried over, 3 embedded\)/);
    const store = openIndexStore(db.config);
    cleanups.push(() => store.close());
    const index = await store.load();
    expect(index.sources.map((source) => source.source)).toEqual(['corpus/a.md', 'corpus/b.md', 'corpus/d.md']);
    const full = await ingestCommand('--full');
    expect(full.stdout).toMatch(/Rebuilt the whole index \(a full rebuild was asked for\): 0 added, 0 changed/);
    expect(full.stdout).toMatch(/\(0 carried over, 3 embedded\)/);
    expect((await ingestCommand('--if-stale')).stdout).toMatch(/The index default is up to date/);
  });

  it('reads the whole corpus again when the generation served has no census, another format or other readers', async () => {
    const db = await database(files);
    await ingest(db.config);
    const s = `"${db.schema}"`;
    // A database whose schema predates the censuses (version 1): a dry run, which migrates nothing, says so; an
    // ingest migrates it and rebuilds the whole index once, then updates it.
    await db.query(`ALTER TABLE ${s}.sources DROP COLUMN census`);
    await db.query(`DELETE FROM ${s}.schema_migrations WHERE version = 2`);
    const noCensus = 'the index in place keeps no census of page furniture';
    expect((await planChanges(db.config)).fullReason).toBe(noCensus);
    const migrated = await ingest(db.config);
    expect(migrated.changes.fullReason).toBe(noCensus);
    expect(migrated.carriedChunks).toBe(0);
    expect((await ingest(db.config)).carriedChunks).toBe(3);

    // A generation some of whose sources have no census (written before the column).
    const [current] = (await generations(db)).filter((row) => row.state === 'current');
    await db.query(`UPDATE ${s}."sources_g${current?.id}" SET census = NULL WHERE source = 'corpus/b.md'`);
    expect((await ingest(db.config)).changes.fullReason).toBe(noCensus);

    const describedAs = async (field: string, value: number) => {
      await db.query(
        `UPDATE ${s}.generations SET description = jsonb_set(description, $1, to_jsonb($2::integer))
          WHERE state = 'current'`,
        [`{${field}}`, value],
      );
    };
    await describedAs('formatVersion', 1);
    expect((await ingest(db.config)).changes.fullReason).toBe('the index has an older format');
    await describedAs('readerVersion', READER_VERSION + 1);
    const reread = await ingest(db.config);
    expect(reread.changes.fullReason).toBe('the document readers changed');
    expect(reread.carriedChunks).toBe(0);
    expect((await ingest(db.config)).changes.fullReason).toBeUndefined();
  });

  it('fails with a message to run it again when the generation it carries over from was removed meanwhile', async () => {
    const db = await database(files);
    await ingest(db.config);
    const [served] = await generations(db);
    const settings = db.config.database!;
    const pool = createPool(settings, () => undefined, 2, 0);
    cleanups.push(() => pool.end());
    const writer = await GenerationWriter.begin(pool, settings, db.config.indexName);
    cleanups.push(() => writer.abandon());
    // Its partitions dropped by another ingest (past its grace period) after this one planned to carry its rows over.
    await db.query(`DROP TABLE "${db.schema}"."sources_g${served?.id}", "${db.schema}"."chunks_g${served?.id}"`);
    const attempt = writer.carrySources(served?.id ?? 0, ['corpus/a.md']);
    await expect(attempt).rejects.toBeInstanceOf(IndexMissingError);
    await expect(attempt).rejects.toThrow(
      /carries unchanged files over from was removed meanwhile by another ingest; run the ingest again/,
    );
  });

  it('says the database does not answer when it goes away while documents are written, and serves the previous', async () => {
    const db = await database(files);
    await ingest(db.config);
    const before = await served(db.config);
    const url = new URL(db.config.database?.url ?? '');
    const proxy = await startTcpProxy(Number(url.port));
    cleanups.push(() => proxy.close());
    url.port = String(proxy.port);
    const through = parseConfig({ ...db.environment, DATABASE_URL: url.toString() }, PROJECT_ROOT);
    await writeFile(path.join(db.root, 'corpus', 'added.md'), '# Added\n\nA file read after the database went away.');
    // Cut as the files are read: the next write, a document's row, meets a reset connection.
    let cut: Promise<void> | undefined;
    const attempt = ingest(through, { full: true, onProgress: () => void (cut ??= proxy.cut()) });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(attempt).rejects.toThrow(/^The database .* does not answer \(.*\)\. Check that it is running/);
    await cut;
    expect(await served(db.config)).toEqual(before);
  });

  it('reads back what an incremental ingest needs of the generation served: censuses, passages and vectors', async () => {
    const server = await startOpenAiWireServer({ dimensions: 16 });
    cleanups.push(() => server.close());
    const db = await database(files, {
      OPENAI_API_KEY: 'sk-local',
      OPENAI_BASE_URL: server.baseUrl,
      EMBEDDING_MODEL: 'text-embedding-3-small',
    });
    await ingest(db.config);
    const pool = createPool(db.config.database!, () => undefined, 1);
    cleanups.push(() => pool.end());
    const opened = await openPostgresGeneration(pool, db.config.database!, db.config.indexName);
    if (!('generation' in opened)) throw new Error(opened.unusable);
    const { generation } = opened;
    expect(generation.description.sources.map((source) => source.source)).toEqual(Object.keys(files));
    expect((await generation.censuses()).map((census) => census.source)).toEqual(Object.keys(files));
    const store = openIndexStore(db.config);
    cleanups.push(() => store.close());
    const served = await collect((await store.load()).allChunks());
    expect(await collect(generation.chunks({ start: 1, end: 3 }))).toEqual(served.slice(1, 3));
    // The vectors the server gave for each passage's text, as float32, in the order of the ranges asked for.
    const vectors = await collect(
      generation.vectors([
        { start: 2, end: 3 },
        { start: 0, end: 1 },
      ]),
    );
    expect(vectors).toEqual(
      [served[2], served[0]].map((chunk) =>
        Float32Array.from(fakeEmbedding(embeddedText(chunk as Chunk).replace(/\n/g, ' '), 16)),
      ),
    );
  });
});
