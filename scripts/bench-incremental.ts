/**
 * Incremental ingest benchmark: after one file of a hundred changed, how long an update takes next to a full
 * rebuild of the same corpus, and how many embedding requests each makes of an OpenAI-compatible server.
 *
 * The corpus is a hundred HTML files of the evaluation's corpora (the Debian Policy and Node.js pages, the French
 * Debian developer's reference and part of the aptitude manual). For each embedder (the lexical one, offline, and an
 * embedding server speaking OpenAI's wire format on a local port, which counts the requests it gets), each round
 * rebuilds the index with `--full`, then changes one file and updates the index; full rebuilds and updates alternate,
 * so that both see the same load on a shared machine, and the ratio of their medians is printed. An untimed full
 * ingest comes first, so that loading the modules is not counted against the first run measured.
 *
 * With --store postgres the index is a generation in the PostgreSQL database of DATABASE_URL, in a scratch schema
 * dropped at the end (each embedder an index of its own); a replaced generation is removed at once by the next
 * ingest (no grace period: no server reads it).
 *
 * Run:  npm run bench:incremental [-- --rounds N]
 *       DATABASE_URL=postgres://… npm run bench:incremental -- --store postgres
 * Exit: 0 when every ingest succeeded; 1 otherwise; 2 on bad flags.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { integerFlag, readFlags } from '../core/command-line.js';
import { parseConfig } from '../core/config.js';
import { describeDatabase, quoteName } from '../core/index/postgres/database.js';
import { renderTable } from '../eval/report.js';
import { type IngestSummary, ingest } from '../ingest/build-index.js';
import { describeMachine } from './lib/machine.js';
import { offlineEnvironment } from './lib/offline-environment.js';
import { startOpenAiWireServer } from './lib/openai-wire-server.js';
import { storeFlag } from './lib/store-flag.js';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');
const CORPORA = path.join(PROJECT_ROOT, 'eval', 'corpora');
/** Files in the corpus; the first folders are taken whole, the last one only as far as this count. */
const CORPUS_FILES = 100;
const FOLDERS = ['policy-en', 'nodejs-en', 'devref-fr', 'aptitude-fr'];
/** Dimensions of the server's vectors (text-embedding-3-small gives 1536; the count of requests does not depend on it). */
const SERVER_DIMENSIONS = 256;

const USAGE = `Usage: npm run bench:incremental [-- --rounds N] [--store postgres]

Ingests a corpus of ${CORPUS_FILES} HTML files in full, then changes one file and updates the index, N times (default 3),
with the lexical embedder and with a local embedding server speaking OpenAI's wire format; prints the time of each
kind of run (median), their ratio, and the embedding requests each made.

Options:
  --rounds N     full rebuilds and updates of each embedder (default 3)
  --store NAME   folder (default) or postgres: the index in the database of DATABASE_URL, in a scratch schema
  --help         show this help`;

interface Measure {
  ms: number[];
  summary: IngestSummary | undefined;
  /** Embedding requests the server got, and the texts they held, run by run. */
  requests: number[];
  inputs: number[];
}

async function main(): Promise<number> {
  const values = readFlags(
    {
      rounds: { type: 'string', default: '3' },
      store: { type: 'string', default: 'folder' },
      help: { type: 'boolean', default: false },
    },
    USAGE,
    (flags) => ({ rounds: integerFlag('rounds', flags.rounds, 1, 100), database: storeFlag(flags.store).database }),
  );
  if (typeof values === 'number') return values;
  const { rounds } = values;
  const database =
    values.database === undefined
      ? undefined
      : { url: values.database.url, schema: `bench_incremental_${process.pid}` };
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-incremental-'));
  const server = await startOpenAiWireServer({ dimensions: SERVER_DIMENSIONS });
  try {
    const corpusDir = path.join(work, 'corpus');
    const files = await copyCorpus(corpusDir);
    // A file in the middle of the corpus, in path order.
    const changing = files[Math.floor(files.length / 2)] ?? '';
    console.log(describeMachine());
    console.log(
      `corpus: ${files.length} HTML files from eval/corpora; the file changed: ${changing}; ${rounds} rounds; ` +
        (database === undefined
          ? 'the index in a folder'
          : `the index in PostgreSQL (${describeDatabase(database.url)}, schema ${database.schema})`),
    );
    const embedders: Record<string, NodeJS.ProcessEnv> = {
      lexical: { EMBEDDER: 'lexical' },
      'server (OpenAI wire format)': {
        EMBEDDER: 'openai',
        OPENAI_API_KEY: 'sk-local',
        OPENAI_BASE_URL: server.baseUrl,
        EMBEDDING_MODEL: 'text-embedding-3-small',
      },
    };
    const rows: string[][] = [];
    for (const [name, overrides] of Object.entries(embedders)) {
      const store: NodeJS.ProcessEnv =
        database === undefined
          ? { INDEX_STORE: 'folder' }
          : {
              INDEX_STORE: 'postgres',
              DATABASE_URL: database.url,
              DATABASE_SCHEMA: database.schema,
              INDEX_NAME: `bench-${rows.length}`,
              GENERATION_GRACE_SECONDS: '0',
            };
      const config = parseConfig(
        offlineEnvironment({
          CORPUS_DIR: corpusDir,
          INDEX_DIR: path.join(work, `index-${rows.length}`),
          ...store,
          ...overrides,
        }),
        PROJECT_ROOT,
      );
      const full: Measure = { ms: [], summary: undefined, requests: [], inputs: [] };
      const update: Measure = { ms: [], summary: undefined, requests: [], inputs: [] };
      // Untimed: loads the modules and warms the JIT, so that the first measured run is not the slowest.
      await ingest(config, { full: true });
      for (let round = 0; round < rounds; round += 1) {
        await measure(full, () => ingest(config, { full: true }));
        await changeFile(path.join(corpusDir, changing), round);
        await measure(update, () => ingest(config));
      }
      const ratio = median(update.ms) / median(full.ms);
      for (const [run, measured] of [
        ['full rebuild (--full)', full],
        ['update, 1 file changed', update],
      ] as const) {
        const summary = measured.summary;
        if (summary === undefined) throw new Error('no ingest was measured');
        rows.push([
          name,
          run,
          String(summary.documents.length),
          String(summary.documents.length - (summary.changes.fullReason === undefined ? unchangedCount(summary) : 0)),
          String(summary.chunkCount),
          String(summary.embeddedChunks),
          name === 'lexical' ? '-' : String(median(measured.requests)),
          name === 'lexical' ? '-' : String(median(measured.inputs)),
          (median(measured.ms) / 1000).toFixed(2),
          measured === update ? ratio.toFixed(3) : '1',
        ]);
      }
    }
    console.log(
      renderTable(
        [
          'embedder',
          'run',
          'files',
          'files read',
          'chunks',
          'chunks embedded',
          'requests (median)',
          'texts sent (median)',
          'median s',
          'time / full',
        ],
        rows,
        'text',
      ),
    );
    console.log(
      "'chunks embedded' counts the passages given to the embedder: the lexical embedder computes every vector again " +
        '(its weights are fitted on the whole corpus), locally; a server is asked only for those of the changed file.',
    );

    async function measure(into: Measure, run: () => Promise<IngestSummary>): Promise<void> {
      const seen = server.requests.length;
      const started = performance.now();
      into.summary = await run();
      into.ms.push(performance.now() - started);
      const requests = server.requests.slice(seen).filter((request) => request.path === '/v1/embeddings');
      into.requests.push(requests.length);
      into.inputs.push(
        requests.reduce((total, request) => total + (request.body as { input: unknown[] }).input.length, 0),
      );
    }
    return 0;
  } finally {
    await server.close();
    await rm(work, { recursive: true, force: true });
    if (database !== undefined) await dropSchema(database.url, database.schema);
  }
}

/** Drops the scratch schema of a run with --store postgres, and everything in it. */
async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${quoteName(schema)} CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Copies the first `CORPUS_FILES` HTML files of the evaluation's corpora, folder by folder; returns their sources. */
async function copyCorpus(corpusDir: string): Promise<string[]> {
  const sources: string[] = [];
  for (const folder of FOLDERS) {
    const found = (await readdir(path.join(CORPORA, folder), { recursive: true }))
      .filter((name) => name.endsWith('.html'))
      .sort();
    for (const name of found) {
      if (sources.length === CORPUS_FILES) return sources;
      const source = path.join(folder, name);
      await cp(path.join(CORPORA, source), path.join(corpusDir, source));
      sources.push(source);
    }
  }
  if (sources.length < CORPUS_FILES) throw new Error(`eval/corpora holds only ${sources.length} HTML files`);
  return sources;
}

/** Adds a paragraph, different each round, at the end of an HTML file's body. */
async function changeFile(file: string, round: number): Promise<void> {
  const html = await readFile(file, 'utf8');
  const paragraph = `<p>Revision ${round + 1} of this page adds a sentence about option number ${round + 1}.</p>`;
  const at = html.lastIndexOf('</body>');
  await writeFile(file, at < 0 ? `${html}${paragraph}` : `${html.slice(0, at)}${paragraph}${html.slice(at)}`);
}

function unchangedCount(summary: IngestSummary): number {
  const refurnished = new Set(summary.changes.refurnished);
  return summary.changes.unchanged.filter((source) => !refurnished.has(source)).length;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('bench:incremental failed:', error);
    process.exitCode = 1;
  },
);
