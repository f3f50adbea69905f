/**
 * Crash-safety proof of ingest: SIGKILL `ingest/main.ts` at random moments of a run and check, after every kill,
 * that the index link still names a complete index that loads, that it is either the previous index or the new
 * one (its chunk count is one of the two, never anything else), and that it answers a question about the NATO
 * communiqué with a citation whose quote sits at its offsets in the source file.
 *
 * It makes a temp project (400 generated Markdown documents of ~60 sentences, plus a copy of the communiqué), builds
 * a first index and times that full run, then --runs times: changes the corpus (adds or removes one document),
 * starts ingest and kills it after a delay drawn uniformly from [0, 1.1 × full run] (every third run from
 * [0.85, 1.05] × full run, where the index is written and swapped), and checks the served index.
 * A last ingest runs to completion and must be loaded. The temp project is removed at the end, also on failure or
 * Ctrl-C. Each line also says where the kill landed (before write / writing / before swap / after swap), inferred
 * from what the killed process left beside the link; the write and swap take a few % of a run, hence the runs
 * aimed at the end.
 *
 * With --store postgres the index is written to the PostgreSQL database of DATABASE_URL (in a scratch schema, dropped
 * at the end) and the same checks hold of the generation the database serves; where a kill landed is read from the
 * generation the killed run left (none: before write; building: writing; current or retired: after the switch).
 *
 * Run:  npm run proof:kill                        (20 runs, random seed, printed)
 *       npm run proof:kill -- --runs 5 --seed 42  (reproducible delays)
 *       DATABASE_URL=postgres://… npm run proof:kill -- --store postgres
 * Exit: 0 when every check held; 1 on any failure; 2 on bad flags.
 */
import { randomInt } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { citationProblems, citedSourceTexts } from '../core/answer/citation-contract.js';
import pg from 'pg';
import { FlagError, integerFlag, readFlags } from '../core/command-line.js';
import { type Config, loadConfig, parseConfig } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createEngine } from '../core/engine.js';
import { loadIndex } from '../core/index/index-store.js';
import { type IndexStore, openIndexStore } from '../core/index/open-index-store.js';
import type { PassageIndex } from '../core/index/passage-index.js';
import { loadDocuments } from '../ingest/load-documents.js';
import { splitIntoChunks } from '../ingest/split-into-chunks.js';
import { onInterrupt } from './lib/interruption.js';
import { describeMachine } from './lib/machine.js';
import { runScript, stopScripts } from './lib/run-script.js';
import { generatedDocument, pick } from './lib/generated-corpus.js';
import { seededRandom } from './lib/seeded-random.js';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');
const COMMUNIQUE = 'corpus/otan-communique-sabotage-russie.fr.txt';
const QUESTION = "Où l'OTAN met-elle en place un nouveau commandement ?";
const GENERATED_DOCUMENTS = 400;
const SENTENCES_PER_DOCUMENT = 60;

const USAGE = `Usage: npm run proof:kill -- [options]

Kills ingest at random moments and checks that the index stays complete, loadable and correct.

Options:
  --runs N    ingest runs to kill (default 20)
  --seed N    seed of the random delays and corpus changes (default: random, printed)
  --store S   folder (default) or postgres: the index in the database of DATABASE_URL, in a scratch schema
  --help      show this help`;

// ---- clean-up: the temp project and any ingest still running, on success, on failure and on Ctrl-C

let tempRoot: string | undefined;
/** With --store postgres: the database, the scratch schema and the store the checks read through. */
let database: { url: string; schema: string; store?: IndexStore } | undefined;
let cleanupPromise: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleanupPromise ??= (async () => {
    await stopScripts('SIGKILL');
    if (tempRoot !== undefined) await rm(tempRoot, { recursive: true, force: true });
    if (database !== undefined) {
      await database.store?.close().catch(() => undefined);
      await query(`DROP SCHEMA IF EXISTS "${database.schema}" CASCADE`).catch(() => undefined);
    }
  })();
  return cleanupPromise;
}

/** One statement on the database of --store postgres. */
async function query<Row extends object>(sql: string, values: unknown[] = []): Promise<Row[]> {
  if (database === undefined) return [];
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<Row>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

const interruption = onInterrupt('killing ingest and removing the temp project', cleanup);

// ---- the steps

interface Project {
  root: string;
  corpusDir: string;
  env: NodeJS.ProcessEnv;
  config: Config;
}

/** A temp project: the generated documents and a copy of the communiqué, offline and extractive. */
async function makeProject(): Promise<Project> {
  tempRoot = await mkdtemp(path.join(os.tmpdir(), 'cited-answers-kill-'));
  const root = tempRoot;
  const corpusDir = path.join(root, 'corpus');
  await mkdir(path.join(corpusDir, 'extra'), { recursive: true });
  const corpusRandom = seededRandom(20241203);
  for (let number = 0; number < GENERATED_DOCUMENTS; number += 1) {
    const text = generatedDocument(number, SENTENCES_PER_DOCUMENT, corpusRandom);
    await writeFile(path.join(corpusDir, `doc-${number}.md`), text);
  }
  await copyFile(path.join(PROJECT_ROOT, COMMUNIQUE), path.join(root, COMMUNIQUE));
  const env: NodeJS.ProcessEnv = {
    CORPUS_DIR: 'corpus',
    INDEX_DIR: path.join('data', 'index'),
    EMBEDDER: 'lexical',
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: '',
    CHAT_MODEL: '',
    ...(database === undefined
      ? { INDEX_STORE: 'folder' }
      : { INDEX_STORE: 'postgres', DATABASE_URL: database.url, DATABASE_SCHEMA: database.schema }),
  };
  const config = parseConfig(env, root);
  if (database !== undefined) database.store = openIndexStore(config);
  return { root, corpusDir, env, config };
}

/** The index the store serves now, as a server would load it. */
function loadServed(project: Project): Promise<PassageIndex> {
  return database?.store?.load() ?? loadIndex(project.config.indexDir, project.config.embedder);
}

interface IngestRun {
  outcome: 'killed' | 'finished' | 'failed';
  code: number | null;
  signal: NodeJS.Signals | null;
  pid: number;
  ms: number;
  output: string;
}

/** Runs the ingest command in the temp project, as a user would there; SIGKILLs it after `killAfterMs` if given. */
async function runIngest(project: Project, killAfterMs?: number, limitMs = 300_000): Promise<IngestRun> {
  const run = await runScript('ingest/main.ts', { cwd: project.root, env: project.env, killAfterMs, limitMs });
  interruption.stopIfInterrupted();
  const outcome = run.overran ? 'failed' : run.signal === 'SIGKILL' ? 'killed' : run.code === 0 ? 'finished' : 'failed';
  const output = `${run.stdout}${run.stderr}${run.overran ? `\n(still running after ${limitMs} ms: killed)` : ''}`;
  return { outcome, code: run.code, signal: run.signal, pid: run.pid, ms: run.ms, output };
}

/** What an index of the corpus as it is now must hold: its chunk count and its sources' checksums. */
interface Expected {
  chunkCount: number;
  sources: string;
}

async function expectedIndex(config: Config): Promise<Expected> {
  const documents = await loadDocuments(config.corpusDir);
  const chunkCount = documents.reduce((sum, document) => sum + splitIntoChunks(document, DEFAULTS.chunking).length, 0);
  return { chunkCount, sources: sourcesKey(documents) };
}

function sourcesKey(sources: ReadonlyArray<{ source: string; checksum: string }>): string {
  return sources
    .map(({ source, checksum }) => `${source}:${checksum}`)
    .sort()
    .join('\n');
}

interface AnswerCheck {
  ok: boolean;
  text: string;
}

/** Asks the served index about the communiqué; every citation's quote must sit at its offsets in its source file. */
async function checkAnswer(index: PassageIndex, root: string, loadMs: number): Promise<AnswerCheck> {
  const startedAt = performance.now();
  const engine = await createEngine(index);
  const builtAt = performance.now();
  const answer = await engine.answerer.answer({ question: QUESTION });
  const elapsed =
    `load ${Math.round(loadMs)} + engine ${Math.round(builtAt - startedAt)} + ` +
    `answer ${Math.round(performance.now() - builtAt)} ms`;
  if (!answer.found || answer.citations.length === 0) {
    return { ok: false, text: `not answered (${elapsed}): ${answer.answer.slice(0, 120)}` };
  }
  const texts = await citedSourceTexts(answer, (source) =>
    readFile(path.resolve(root, source), 'utf8').catch(() => undefined),
  );
  const problems = citationProblems(answer, (source) => texts.get(source));
  if (!answer.citations.some((citation) => citation.source === COMMUNIQUE)) {
    problems.push('no citation of the communiqué');
  }
  const first = answer.citations[0];
  const where =
    first === undefined
      ? ''
      : `${first.source === COMMUNIQUE ? 'communiqué' : first.source}:${first.start}-${first.end}`;
  return problems.length === 0
    ? { ok: true, text: `ok, ${answer.citations.length} cit. verified at ${where}; ${elapsed}` }
    : { ok: false, text: problems.join('; ') };
}

/** What a killed ingest left beside the index link, or in the database, which tells where it was when it died. */
async function leftovers(config: Config, pid: number) {
  if (database !== undefined) {
    const rows = await query<{ state: string; own: boolean }>(
      `SELECT state, builder LIKE $1 AS own FROM "${database.schema}".generations`,
      [`%:${pid}`],
    );
    const own = rows.find((row) => row.own)?.state;
    return {
      staging: rows.filter((row) => row.state === 'building').length,
      links: 0,
      generations: rows.filter((row) => row.state !== 'building').length,
      ownStaging: own === 'building',
      ownGeneration: false,
      servesOwn: own === 'current' || own === 'retired',
    };
  }
  const parent = path.dirname(config.indexDir);
  const base = path.basename(config.indexDir);
  const names = await readdir(parent);
  const target = path.basename(await realpath(config.indexDir).catch(() => ''));
  return {
    staging: names.filter((name) => name.startsWith(`.${base}.staging-`)).length,
    links: names.filter((name) => name.startsWith(`.${base}.link-`)).length,
    generations: names.filter((name) => name.startsWith(`${base}-`)).length,
    ownStaging: names.some((name) => name.startsWith(`.${base}.staging-${pid}-`)),
    ownGeneration: names.some((name) => name.startsWith(`${base}-`) && name.includes(`-${pid}-`)),
    servesOwn: target.includes(`-${pid}-`),
  };
}

/** Where a killed run was when it died, from what it left on disk. */
function whereKilled(left: Awaited<ReturnType<typeof leftovers>>): string {
  if (left.servesOwn) return 'after swap';
  if (left.ownGeneration) return 'before swap';
  return left.ownStaging ? 'writing' : 'before write';
}

/**
 * Changes the corpus so that the next index differs from the one served: adds a new document on odd runs, removes
 * a generated one on even runs (always one the served index holds, since generated documents are only removed).
 */
async function changeCorpus(run: number, corpusDir: string, next: () => number): Promise<string> {
  if (run % 2 === 1) {
    const name = `extra/run-${run}.md`;
    await writeFile(path.join(corpusDir, name), generatedDocument(1000 + run, 3 + ((run * 7) % 20), next));
    return `+${name}`;
  }
  const generated = (await readdir(corpusDir)).filter((name) => /^doc-\d+\.md$/.test(name)).sort();
  const name = pick(generated, next);
  await unlink(path.join(corpusDir, name));
  return `-${name}`;
}

interface KillRun {
  ingest: IngestRun;
  /** Where the kill landed, or '-' when the run was not killed. */
  when: string;
  /** Whether the served index is the previous one, the new one, or neither. */
  serves: 'old' | 'new' | 'OTHER' | '?';
  /** The index served after the run, when it loads. */
  loaded: PassageIndex | undefined;
  expected: Expected;
  answer: AnswerCheck;
  problems: string[];
}

/** One run: change the corpus, start ingest, kill it after `delayMs`, and check the index left served. */
async function killRun(
  project: Project,
  served: PassageIndex,
  delayMs: number,
  change: Expected,
  limitMs: number,
): Promise<KillRun> {
  const previous = { generation: served.generation, chunkCount: served.chunkCount };
  const ingest = await runIngest(project, delayMs, limitMs);
  const left = await leftovers(project.config, ingest.pid);
  const problems: string[] = [];
  if (change.chunkCount === previous.chunkCount) problems.push('old and new indexes would hold as many chunks');
  if (ingest.outcome === 'failed') {
    problems.push(`ingest failed (${ingest.signal ?? ingest.code}): ${ingest.output.trim().slice(-300)}`);
  }
  const when = ingest.outcome === 'killed' ? whereKilled(left) : '-';
  const loadStartedAt = performance.now();
  let loaded: PassageIndex | undefined;
  try {
    loaded = await loadServed(project);
  } catch (error) {
    const text = `index does not load: ${(error as Error).message}`;
    problems.push(text);
    return { ingest, when, serves: '?', loaded, expected: change, answer: { ok: false, text }, problems };
  }
  const isOld = loaded.generation === previous.generation && loaded.chunkCount === previous.chunkCount;
  const isNew = sourcesKey(loaded.sources) === change.sources && loaded.chunkCount === change.chunkCount;
  if (!isOld && !isNew) problems.push(`serves neither index (${loaded.chunkCount} chunks, ${loaded.generation})`);
  if (![previous.chunkCount, change.chunkCount].includes(loaded.chunkCount)) {
    problems.push(`chunk count ${loaded.chunkCount} is neither ${previous.chunkCount} nor ${change.chunkCount}`);
  }
  if (ingest.outcome === 'finished' && !isNew) problems.push('ingest finished but the new index is not served');
  const answer = await checkAnswer(loaded, project.root, performance.now() - loadStartedAt);
  if (!answer.ok) problems.push(`answer: ${answer.text}`);
  const serves = isOld ? 'old' : isNew ? 'new' : 'OTHER';
  return { ingest, when, serves, loaded, expected: change, answer, problems };
}

/** A last ingest that runs to completion: its index must be the current corpus's, with nothing left behind. */
async function finalRun(project: Project, fail: (message: string) => void): Promise<void> {
  const final = await runIngest(project);
  const expected = await expectedIndex(project.config);
  const left = await leftovers(project.config, final.pid);
  console.log(
    `\nfinal ingest: ${final.outcome} in ${Math.round(final.ms)} ms (exit code ${final.code}); ` +
      `${final.output.trim().split('\n').at(-1) ?? ''}`,
  );
  if (final.outcome !== 'finished') fail(`the final ingest did not finish: ${final.output.trim().slice(-500)}`);
  try {
    const loadStartedAt = performance.now();
    const index = await loadServed(project);
    const loadMs = performance.now() - loadStartedAt;
    const isNew = sourcesKey(index.sources) === expected.sources && index.chunkCount === expected.chunkCount;
    const answer = await checkAnswer(index, project.root, loadMs);
    console.log(
      `final index: ${index.chunkCount} chunks (expected ${expected.chunkCount}), ` +
        `${isNew ? 'the current corpus' : 'NOT the current corpus'}; answer ${answer.text}`,
    );
    if (!isNew) fail('the final index is not the index of the current corpus');
    if (!answer.ok) fail(`the final index does not answer: ${answer.text}`);
  } catch (error) {
    fail(`the final index does not load: ${(error as Error).message}`);
  }
  if (database !== undefined) {
    // Killed runs leave generations 'building' until their heartbeat is old; replaced ones stay their grace period.
    const states = await query<{ state: string; count: number }>(
      `SELECT state, count(*)::integer AS count FROM "${database.schema}".generations GROUP BY state ORDER BY state`,
    );
    console.log(`generations after the final run: ${states.map((row) => `${row.count} ${row.state}`).join(', ')}`);
    if (states.find((row) => row.state === 'current')?.count !== 1)
      fail('there should be exactly one current generation');
    return;
  }
  console.log(
    `beside the link after the final run: ${left.generations} generation folder(s), ${left.staging} staging ` +
      `folder(s), ${left.links} temporary link(s)`,
  );
  if (left.staging > 0 || left.links > 0 || left.generations > 2) {
    fail('a complete ingest should leave no staging folder or temporary link, and at most 2 generations');
  }
}

function parseOptions(): { runs: number; seed: number; store: 'folder' | 'postgres' } | number {
  return readFlags(
    {
      runs: { type: 'string', default: '20' },
      seed: { type: 'string' },
      store: { type: 'string', default: 'folder' },
      help: { type: 'boolean', default: false },
    },
    USAGE,
    (values) => {
      if (values.store !== 'folder' && values.store !== 'postgres') {
        throw new FlagError(`--store must be folder or postgres, not ${values.store}`);
      }
      return {
        runs: integerFlag('runs', values.runs, 1, 1000),
        seed: values.seed === undefined ? randomInt(2 ** 31) : integerFlag('seed', values.seed, 0, 2 ** 32 - 1),
        store: values.store,
      };
    },
  );
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (typeof options === 'number') return options;
  const { runs, seed, store } = options;
  if (store === 'postgres') {
    const url = loadConfig().database?.url;
    if (url === undefined) throw new Error('--store postgres needs DATABASE_URL (a PostgreSQL database with pgvector)');
    database = { url, schema: `kill_proof_${process.pid}` };
  }
  const startedAt = performance.now();
  console.log('# Kill-ingest proof of cited-answers (scripts/kill-ingest.ts)');
  console.log(describeMachine());
  console.log(`seed ${seed} (repeat with --seed ${seed}), ${runs} runs`);
  let failures = 0;
  const fail = (message: string) => {
    failures += 1;
    console.log(`  FAILURE: ${message}`);
  };

  // The first index, whose run is the measure of a full run.
  const project = await makeProject();
  const first = await runIngest(project);
  if (first.outcome !== 'finished') throw new Error(`the first ingest did not finish:\n${first.output}`);
  const fullRunMs = first.ms;
  const loadStartedAt = performance.now();
  let served = await loadServed(project);
  const firstAnswer = await checkAnswer(served, project.root, performance.now() - loadStartedAt);
  console.log(
    `temp project ${project.root}: ${GENERATED_DOCUMENTS + 1} documents; first index ${served.chunkCount} ` +
      `chunks, full ingest run ${Math.round(fullRunMs)} ms (process start to exit); answer ${firstAnswer.text}`,
  );
  console.log(`  ${first.output.trim().split('\n').at(-1) ?? ''}`);
  if (!firstAnswer.ok) fail(`the first index does not answer: ${firstAnswer.text}`);
  console.log(
    `kill delays uniform in [0, ${Math.round(fullRunMs * 1.1)}] ms, every third run in ` +
      `[${Math.round(fullRunMs * 0.85)}, ${Math.round(fullRunMs * 1.05)}] ms (the write and the swap)\n`,
  );

  const next = seededRandom(seed);
  const counts = { killed: 0, finished: 0, killedServingOld: 0, killedServingNew: 0 };
  const phases = new Map<string, number>(['before write', 'writing', 'before swap', 'after swap'].map((p) => [p, 0]));
  console.log(['run', 'change', 'delay ms', 'ingest', 'when', 'serves', 'chunks old→new', 'answer'].join(' | '));
  for (let run = 1; run <= runs; run += 1) {
    const change = await changeCorpus(run, project.corpusDir, next);
    const expected = await expectedIndex(project.config);
    // Every third run aims at the end of the run, where the index is written and the link swapped.
    const share = run % 3 === 0 ? 0.85 + next() * 0.2 : next() * 1.1;
    const delayMs = Math.round(share * fullRunMs);
    const previousCount = served.chunkCount;
    const result = await killRun(project, served, delayMs, expected, Math.max(120_000, fullRunMs * 10));
    interruption.stopIfInterrupted();
    served = result.loaded ?? served;
    if (result.ingest.outcome === 'killed') {
      counts.killed += 1;
      phases.set(result.when, (phases.get(result.when) ?? 0) + 1);
      if (result.serves === 'old') counts.killedServingOld += 1;
      if (result.serves === 'new') counts.killedServingNew += 1;
    } else if (result.ingest.outcome === 'finished') counts.finished += 1;
    console.log(
      [
        `${String(run).padStart(3)}/${runs}`,
        change.padEnd(17),
        String(delayMs).padStart(8),
        `${result.ingest.outcome.padEnd(8)} at ${String(Math.round(result.ingest.ms)).padStart(5)} ms`,
        result.when.padEnd(12),
        result.serves.padEnd(5),
        `${previousCount}→${expected.chunkCount}: ${result.loaded?.chunkCount ?? '-'}`,
        result.answer.text,
      ].join(' | '),
    );
    for (const problem of result.problems) fail(problem);
  }

  await finalRun(project, fail);
  interruption.stopIfInterrupted();
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(0);
  console.log(
    `\nkills by moment (from what each left on disk): ` +
      [...phases].map(([phase, count]) => `${phase} ${count}`).join(', '),
  );
  console.log(
    `${failures === 0 ? 'PASS' : 'FAIL'}: runs ${runs}: killed mid-way ${counts.killed} (then serving old ` +
      `${counts.killedServingOld}, new ${counts.killedServingNew}), finished before the kill ${counts.finished}, ` +
      `failures ${failures}; seed ${seed}; ${seconds} s`,
  );
  return failures === 0 ? 0 : 1;
}

main()
  .catch((error: unknown) => {
    if (interruption.interrupted) return 130;
    console.error(`kill-ingest proof failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  })
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  });
