/**
 * Scale benchmark: how ingest, start-up, memory and query latency grow with the corpus, on real text.
 *
 * For each size (about 1k, 10k and 100k chunks by default; 1M with --1m) it builds a corpus from Debian
 * documentation packages (see scripts/lib/scale-corpus.ts), then, each in a child process on 127.0.0.1:
 *   1. ingests it (wall time, chunks/s, peak RSS, index size on disk, or in the database with --store postgres);
 *   2. starts the server (time to the first 200 from /healthz and to the first answer, RSS after start);
 *   3. asks --questions different questions one after the other (server `totalMs` and client round trip
 *      percentiles, RSS and peak RSS after);
 *   4. loads /healthz and /api/answer with autocannon in turn, a second at a time, for --seconds each (requests per
 *      second, and their ratio).
 * The repository's corpus/ (the communiqué) is measured the same way first. It prints one table, writes the figures
 * as JSON and a log–log chart as SVG.
 *
 * Run:  npm run bench:scale                         (communiqué, 1k, 10k, 100k)
 *       npm run bench:scale -- --1m                 (and 1M)
 *       npm run bench:scale -- --sizes 1000,10000   (chosen sizes)
 *       npm run bench:scale -- --source DIR         (documents of a local folder instead of Debian packages)
 *       npm run bench:scale -- --store postgres     (the index in the PostgreSQL database of DATABASE_URL)
 * Exit: 0 when every step succeeded; 1 on a failed step; 2 on bad flags.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { FlagError, integerFlag, readFlags } from '../core/command-line.js';
import { onInterrupt } from './lib/interruption.js';
import { memoryOf } from './lib/process-memory.js';
import { offlineEnvironment } from './lib/offline-environment.js';
import { runScript, type ScriptOptions, startScript, stopScripts } from './lib/run-script.js';
import { writeScaleChart } from './lib/scale-chart.js';
import { fetchPackages, folderPool, packagePool, writeCorpus } from './lib/scale-corpus.js';
import { seededRandom } from './lib/seeded-random.js';
import { storeFlag } from './lib/store-flag.js';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');
const PEAK_MEMORY = path.join(import.meta.dirname, 'lib', 'report-peak-memory.mjs');

const USAGE = `Usage: npm run bench:scale -- [options]

Builds real-text corpora of about 1k, 10k and 100k chunks from Debian documentation packages, ingests each,
starts the server on it and measures start-up, memory, sequential query latency and throughput; prints one table
and writes a log–log chart.

Options:
  --sizes LIST       corpus sizes in chunks, comma-separated (default 1000,10000,100000)
  --1m               also 1,000,000 chunks (the real text is repeated in copies past its size)
  --questions N      questions asked one after the other on each corpus (default 2000)
  --seconds N        seconds of load on /healthz and on /api/answer, each, taken in turn (default 5)
  --connections N    connections of that load (default 20)
  --source DIR       take documents from this folder instead of Debian packages
  --store NAME       folder (default) or postgres: the index in the database of DATABASE_URL, each corpus
                     an index of its own (INDEX_NAME bench-…), which servers read without a local copy
  --cache DIR        where packages and corpora are kept (default ~/.cache/cited-answers-bench)
  --chart FILE       the SVG chart to write (default docs/scale-chart.svg; -postgres before .svg with postgres)
  --json FILE        the figures as JSON (default docs/scale-results.json; likewise)
  --baseline FILE    the JSON of an earlier run, drawn on the chart as "before"
  --no-communique    skip the repository's corpus/
  --help             show this help`;

interface Options {
  sizes: number[];
  store: 'folder' | 'postgres';
  /** With the postgres store: the database, its schema, and the environment that points commands at it. */
  database: { url: string; schema: string } | undefined;
  questions: number;
  seconds: number;
  connections: number;
  source: string | undefined;
  cache: string;
  chart: string;
  json: string;
  communique: boolean;
  baseline: string | undefined;
}

function parseOptions(): Options | number {
  return readFlags(
    {
      sizes: { type: 'string', default: '1000,10000,100000' },
      '1m': { type: 'boolean', default: false },
      questions: { type: 'string', default: '2000' },
      seconds: { type: 'string', default: '5' },
      connections: { type: 'string', default: '20' },
      source: { type: 'string' },
      store: { type: 'string', default: 'folder' },
      cache: { type: 'string', default: path.join(os.homedir(), '.cache', 'cited-answers-bench') },
      chart: { type: 'string' },
      json: { type: 'string' },
      baseline: { type: 'string' },
      'no-communique': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    USAGE,
    (values) => {
      const sizes = values.sizes.split(',').map((size) => integerFlag('sizes', size.trim(), 10, 10_000_000));
      if (values['1m'] && !sizes.includes(1_000_000)) sizes.push(1_000_000);
      if (values.source !== undefined && !existsSync(values.source)) {
        throw new FlagError(`--source ${values.source} does not exist`);
      }
      const { store, database } = storeFlag(values.store);
      const suffix = store === 'postgres' ? '-postgres' : '';
      return {
        sizes: sizes.sort((a, b) => a - b),
        store,
        database: database === undefined ? undefined : { url: database.url, schema: database.schema },
        questions: integerFlag('questions', values.questions, 1, 1_000_000),
        seconds: integerFlag('seconds', values.seconds, 1, 600),
        connections: integerFlag('connections', values.connections, 1, 1000),
        source: values.source === undefined ? undefined : path.resolve(values.source),
        cache: path.resolve(values.cache),
        chart: path.resolve(values.chart ?? path.join(PROJECT_ROOT, 'docs', `scale-chart${suffix}.svg`)),
        json: path.resolve(values.json ?? path.join(PROJECT_ROOT, 'docs', `scale-results${suffix}.json`)),
        communique: !values['no-communique'],
        baseline: values.baseline === undefined ? undefined : path.resolve(values.baseline),
      };
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes and temp folders, removed on success, failure and Ctrl-C.

const tempDirs = new Set<string>();
let activeLoad: autocannon.Instance | undefined;

async function cleanup(): Promise<void> {
  activeLoad?.stop();
  await stopScripts('SIGTERM', 15_000);
  await Promise.all([...tempDirs].map((dir) => rm(dir, { recursive: true, force: true })));
}

const interruption = onInterrupt('stopping the server and removing temp folders', cleanup);

/**
 * Offline and extractive (see `offlineEnvironment`), one process, no index polling, peak memory reported; with the
 * postgres store, the index named `indexName` in the database.
 */
function measured(
  indexDir: string,
  peakFile: string,
  options: Options,
  indexName: string,
  args: string[] = [],
): ScriptOptions {
  const database: NodeJS.ProcessEnv =
    options.database === undefined
      ? { INDEX_STORE: 'folder' }
      : { INDEX_STORE: 'postgres', DATABASE_URL: options.database.url, INDEX_NAME: indexName };
  return {
    args,
    imports: [PEAK_MEMORY],
    env: offlineEnvironment({
      WORKERS: '1',
      INDEX_DIR: indexDir,
      INDEX_POLL_MS: '0',
      PEAK_MEMORY_FILE: peakFile,
      ...database,
    }),
  };
}

/** The size of a generation in the database: its tables with their indexes (the HNSW graph included). */
async function generationBytes(database: { url: string; schema: string }, generation: string): Promise<number> {
  const id = Number(generation.split('@').at(-1));
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const result = await client.query<{ bytes: string }>(
      `SELECT coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0) AS bytes
         FROM pg_tables WHERE schemaname = $1 AND tablename ~ $2`,
      [database.schema, `_g${id}$`],
    );
    return Number(result.rows[0]?.bytes ?? 0);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One corpus.

interface ScaleRow {
  corpus: string;
  documents: number;
  chunks: number;
  ingestSeconds: number;
  chunksPerSecond: number;
  /** The ingest's own stage timings, as it prints them (ms). */
  stages: string;
  ingestPeakMb: number;
  indexMb: number;
  coldStartSeconds: number;
  firstAnswerSeconds: number;
  rssAfterStartMb: number;
  questions: number;
  rssAfterQuestionsMb: number;
  peakRssMb: number;
  server: Percentiles;
  client: Percentiles;
  healthzPerSecond: number;
  answerPerSecond: number;
  ratio: number;
}

interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

async function measureCorpus(
  label: string,
  corpusDir: string,
  documents: number,
  questions: string[],
  options: Options,
): Promise<ScaleRow> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-scale-'));
  tempDirs.add(work);
  try {
    const indexDir = path.join(work, 'index');
    const ingestPeak = path.join(work, 'ingest-peak');
    log(`${label}: ingesting ${corpusDir}`);
    const ingestStarted = performance.now();
    const indexName = `bench-${label.replace(/[^\p{L}\p{N}]+/gu, '-')}`;
    const ingestRun = await runScript(
      'ingest/main.ts',
      measured(indexDir, ingestPeak, options, indexName, ['--corpus', corpusDir, '--out', indexDir]),
    );
    const ingestOutput = ingestRun.stdout + ingestRun.stderr;
    if (ingestRun.code !== 0) throw new Error(`${label}: the ingest exited with ${ingestRun.code}:\n${ingestOutput}`);
    const ingestSeconds = (performance.now() - ingestStarted) / 1000;
    const indexed = /^Indexed (\d+) chunk\(s\).* in \d+ ms \((.*)\)\.$/m.exec(ingestOutput);
    if (indexed === null) throw new Error(`${label}: the ingest printed no summary:\n${ingestOutput}`);
    const chunks = Number(indexed[1]);
    const generation = /into generation (\S+) in/.exec(ingestOutput)?.[1];
    const indexMb =
      (options.database === undefined || generation === undefined
        ? await folderBytes(await realpath(indexDir))
        : await generationBytes(options.database, generation)) /
      2 ** 20;
    log(`${label}: ${chunks} chunks in ${ingestSeconds.toFixed(1)} s (${indexed[2]}); starting the server`);

    const serverPeak = path.join(work, 'server-peak');
    const started = performance.now();
    const server = startScript('server/main.ts', measured(indexDir, serverPeak, options, indexName));
    try {
      const url = await server.waitFor(
        (output) => /^Serving .* at (http:\/\/127\.0\.0\.1:\d+)\/$/m.exec(output)?.[1],
        600_000,
      );
      await waitFor(`${url}/healthz`);
      const coldStartSeconds = (performance.now() - started) / 1000;
      await ask(url, questions[0] ?? 'help');
      const firstAnswerSeconds = (performance.now() - started) / 1000;
      const pid = server.pid;
      const afterStart = memoryOf(pid);
      log(`${label}: up in ${coldStartSeconds.toFixed(2)} s; asking ${options.questions} questions`);

      const serverTimes = new Float64Array(options.questions);
      const clientTimes = new Float64Array(options.questions);
      for (let index = 0; index < options.questions; index += 1) {
        interruption.stopIfInterrupted();
        const question = questions[index % questions.length] ?? '';
        const askedAt = performance.now();
        const body = await ask(url, question);
        clientTimes[index] = performance.now() - askedAt;
        serverTimes[index] = body.timings.totalMs;
      }
      const afterQuestions = memoryOf(pid);

      log(`${label}: loading /healthz and /api/answer in turn, ${options.seconds} s each`);
      let turn = 0;
      const [healthzPerSecond, answerPerSecond] = await throughputs(
        { url: `${url}/healthz`, method: 'GET' },
        {
          url: `${url}/api/answer`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          requests: [
            {
              setupRequest: (request) => ({
                ...request,
                body: JSON.stringify({ question: questions[turn++ % Math.min(questions.length, 50)] }),
              }),
            },
          ],
        },
        options,
      );
      return {
        corpus: label,
        documents,
        chunks,
        ingestSeconds,
        chunksPerSecond: chunks / ingestSeconds,
        stages: indexed[2] ?? '',
        ingestPeakMb: Number(await readFile(ingestPeak, 'utf8')) / 2 ** 20,
        indexMb,
        coldStartSeconds,
        firstAnswerSeconds,
        rssAfterStartMb: afterStart.rssMb,
        questions: options.questions,
        rssAfterQuestionsMb: afterQuestions.rssMb,
        peakRssMb: afterQuestions.peakMb,
        server: percentiles(serverTimes),
        client: percentiles(clientTimes),
        healthzPerSecond,
        answerPerSecond,
        ratio: answerPerSecond / healthzPerSecond,
      };
    } finally {
      await server.stop('SIGTERM', 15_000);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    tempDirs.delete(work);
  }
}

async function waitFor(url: string): Promise<void> {
  for (;;) {
    const response = await fetch(url).catch(() => undefined);
    if (response?.ok === true) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface AnswerBody {
  found: boolean;
  timings: { totalMs: number };
}

async function ask(url: string, question: string): Promise<AnswerBody> {
  const response = await fetch(`${url}/api/answer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ question }),
  });
  const body = (await response.json()) as AnswerBody;
  if (!response.ok) throw new Error(`/api/answer answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * Requests per second of two loads, taken in turn a second at a time (first, second, second, first, …) for
 * `options.seconds` each: on a shared machine whose load changes from one second to the next, both meet it alike,
 * and their ratio compares them.
 */
async function throughputs(
  first: autocannon.Options,
  second: autocannon.Options,
  options: Options,
): Promise<[number, number]> {
  let firstTotal = 0;
  let secondTotal = 0;
  for (let turn = 0; turn < options.seconds; turn += 1) {
    if (turn % 2 === 0) {
      firstTotal += await requestsInOneSecond(first, options);
      secondTotal += await requestsInOneSecond(second, options);
    } else {
      secondTotal += await requestsInOneSecond(second, options);
      firstTotal += await requestsInOneSecond(first, options);
    }
  }
  return [firstTotal / options.seconds, secondTotal / options.seconds];
}

async function requestsInOneSecond(request: autocannon.Options, options: Options): Promise<number> {
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    activeLoad = autocannon(
      { ...request, connections: options.connections, duration: 1 },
      (error: unknown, finished: autocannon.Result) => (error ? reject(error) : resolve(finished)),
    );
  }).finally(() => (activeLoad = undefined));
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${request.url}: ${result.non2xx} non-2xx answers and ${result.errors} errors under load`);
  }
  return result.requests.total;
}

function percentiles(values: Float64Array): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const at = (share: number) => sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] ?? NaN;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}

async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// Questions: words of the corpus's own sentences, so that most find passages; a tenth made of words it lacks.

const NONSENSE = 'zorblaxe quintiffle murgendal plovistane trebuchon saskavir vendrelique oxtapulme'.split(' ');
const PREFIXES = ['', 'What about ', 'How does ', 'Que dit la documentation sur ', 'Explain '];

async function corpusQuestions(corpusDir: string, count: number, seed: number): Promise<string[]> {
  const random = seededRandom(seed);
  const files = (await readdir(corpusDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
  const questions = new Set<string>();
  const lines: string[] = [];
  for (let index = 0; index < Math.min(files.length, 400); index += 1) {
    const file = files[Math.floor(random() * files.length)] ?? '';
    const text = readFileSync(file, 'utf8').replace(/<[^>]*>/g, ' ');
    lines.push(...text.split('\n').filter((line) => (line.match(/\p{L}{4,}/gu) ?? []).length >= 5));
  }
  if (lines.length === 0) throw new Error(`${corpusDir} has no line of five words to ask about`);
  for (let attempt = 0; questions.size < count && attempt < count * 20; attempt += 1) {
    const prefix = PREFIXES[Math.floor(random() * PREFIXES.length)] ?? '';
    if (random() < 0.1) {
      const pick = () => NONSENSE[Math.floor(random() * NONSENSE.length)] ?? '';
      questions.add(`${prefix}${pick()} ${pick()} ${attempt}?`);
      continue;
    }
    const words = lines[Math.floor(random() * lines.length)]?.match(/\p{L}{4,}/gu) ?? [];
    const start = Math.floor(random() * Math.max(1, words.length - 4));
    const length = 2 + Math.floor(random() * 3);
    questions.add(`${prefix}${words.slice(start, start + length).join(' ')}?`);
  }
  return [...questions];
}

// ---------------------------------------------------------------------------------------------------------------
// Report.

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '—');
const count = (value: number) => value.toLocaleString('en-US');

function table(rows: readonly ScaleRow[]): string {
  const header = [
    'corpus',
    'chunks',
    'ingest s',
    'chunks/s',
    'ingest peak MB',
    'index MB',
    'cold start s (first answer)',
    'RSS start → after N q MB (peak)',
    'server p50/p95/p99 (max) ms',
    'client p50/p95/p99 ms',
    'answer/healthz req/s',
  ];
  const lines = rows.map((row) => [
    row.corpus,
    count(row.chunks),
    fixed(row.ingestSeconds),
    count(Math.round(row.chunksPerSecond)),
    fixed(row.ingestPeakMb, 0),
    fixed(row.indexMb),
    `${fixed(row.coldStartSeconds, 2)} (${fixed(row.firstAnswerSeconds, 2)})`,
    `${fixed(row.rssAfterStartMb, 0)} → ${fixed(row.rssAfterQuestionsMb, 0)} (${fixed(row.peakRssMb, 0)}), N=${count(row.questions)}`,
    `${fixed(row.server.p50)}/${fixed(row.server.p95)}/${fixed(row.server.p99)} (${fixed(row.server.max)})`,
    `${fixed(row.client.p50)}/${fixed(row.client.p95)}/${fixed(row.client.p99)}`,
    `${count(Math.round(row.answerPerSecond))}/${count(Math.round(row.healthzPerSecond))} = ${fixed(row.ratio, 2)}`,
  ]);
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function machine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpu}, ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}`;
}

function log(line: string): void {
  console.error(`[bench:scale] ${line}`);
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (typeof options === 'number') return options;
  const rows: ScaleRow[] = [];
  if (options.communique) {
    const corpusDir = path.join(PROJECT_ROOT, 'corpus');
    const questions = await corpusQuestions(corpusDir, options.questions, 1);
    const documents = (await readdir(corpusDir)).filter((name) => !name.startsWith('.')).length;
    rows.push(await measureCorpus('communiqué', corpusDir, documents, questions, options));
  }
  const pool =
    options.source === undefined
      ? await packagePool(await fetchPackages(options.cache, log))
      : await folderPool(options.source);
  const corporaDir = path.join(options.cache, options.source === undefined ? 'corpora' : 'corpora-local');
  await mkdir(corporaDir, { recursive: true });
  for (const size of options.sizes) {
    interruption.stopIfInterrupted();
    const corpus = await writeCorpus(pool, path.join(corporaDir, String(size)), size);
    const questions = await corpusQuestions(corpus.folder, options.questions, size);
    const label = `${size >= 1_000_000 ? `${size / 1_000_000}M` : size >= 1000 ? `${size / 1000}k` : size} chunks`;
    rows.push(await measureCorpus(label, corpus.folder, corpus.documents, questions, options));
  }
  const store = options.store === 'postgres' ? 'the index in PostgreSQL' : 'the index in a folder';
  console.log(
    `Scale benchmark of ${store} on ${machine()}; one run, sequential questions then ${options.connections} ` +
      'connections.',
  );
  console.log(table(rows));
  for (const row of rows) console.log(`${row.corpus}: ingest stages ${row.stages}`);
  await mkdir(path.dirname(options.json), { recursive: true });
  await writeFile(options.json, `${JSON.stringify({ machine: machine(), rows }, null, 2)}\n`);
  const measured = (list: readonly ScaleRow[]) => list.filter((row) => row.corpus !== 'communiqué');
  const baseline =
    options.baseline === undefined
      ? undefined
      : {
          name: 'before',
          rows: measured((JSON.parse(await readFile(options.baseline, 'utf8')) as { rows: ScaleRow[] }).rows),
        };
  await writeScaleChart(measured(rows), options.chart, machine(), baseline);
  console.log(
    `Figures in ${path.relative(process.cwd(), options.json)}, chart in ${path.relative(process.cwd(), options.chart)}.`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    if (!interruption.interrupted) console.error('bench:scale failed:', error);
    await cleanup();
    process.exitCode = 1;
  },
);
