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
 * Run:  npm run proof:kill                        (20 runs, random seed, printed)
 *       npm run proof:kill -- --runs 5 --seed 42  (reproducible delays)
 * Exit: 0 when every check held; 1 on any failure; 2 on bad flags.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { integerFlag, readFlags } from '../core/command-line.js';
import { citationProblems, citedSourceTexts } from '../core/answer/citation-contract.js';
import { Interrupted, onInterrupt } from './lib/interruption.js';
import { seededRandom } from './lib/seeded-random.js';
import { type Config, parseConfig } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createEngine } from '../core/engine.js';
import { type LoadedIndex, loadIndex } from '../core/index/index-store.js';
import { loadDocuments } from '../ingest/load-documents.js';
import { splitIntoChunks } from '../ingest/split-into-chunks.js';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');
const TSX = import.meta.resolve('tsx');
const COMMUNIQUE = 'corpus/otan-communique-sabotage-russie.fr.txt';
const QUESTION = "Où l'OTAN met-elle en place un nouveau commandement ?";
const GENERATED_DOCUMENTS = 400;
const SENTENCES_PER_DOCUMENT = 60;

const USAGE = `Usage: npm run proof:kill -- [options]

Kills ingest at random moments and checks that the index stays complete, loadable and correct.

Options:
  --runs N    ingest runs to kill (default 20)
  --seed N    seed of the random delays and corpus changes (default: random, printed)
  --help      show this help`;

// ---------------------------------------------------------------------------------------------------------------
// Cleanup: the temp project and any ingest still running, on success, on failure and on Ctrl-C.

const children = new Set<ChildProcess>();
let tempRoot: string | undefined;
let cleanupPromise: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleanupPromise ??= (async () => {
    await Promise.all(
      [...children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    if (tempRoot !== undefined) await rm(tempRoot, { recursive: true, force: true });
  })();
  return cleanupPromise;
}

const interruption = onInterrupt('killing ingest and removing the temp project', cleanup);
const stopIfInterrupted = () => interruption.stopIfInterrupted();

// ---------------------------------------------------------------------------------------------------------------

const pick = <T>(items: readonly T[], next: () => number): T => items[Math.floor(next() * items.length)] as T;

const FRENCH = {
  subjects: ['Le jardinier', 'La boulangère', 'Le chef de gare', "L'astronome", 'La vigneronne', "L'apiculteur"],
  verbs: ['observe', 'prépare', 'note', 'compare', 'range', 'mesure'],
  objects: ['les semis de tomates', 'la pâte à pain', 'les horaires du soir', 'les anneaux de Saturne', 'les grappes'],
  tails: ['avant la pluie', 'chaque matin', 'au printemps', 'près du canal', 'pour la foire du village'],
};
const ENGLISH = {
  subjects: ['The gardener', 'The baker', 'The stationmaster', 'The astronomer', 'The winemaker', 'The beekeeper'],
  verbs: ['watches', 'prepares', 'writes down', 'compares', 'stores', 'measures'],
  objects: ['the tomato seedlings', 'the bread dough', 'the evening timetable', "Saturn's rings", 'the grapes'],
  tails: ['before the rain', 'every morning', 'in spring', 'near the canal', 'for the village fair'],
};

/** A Markdown document about everyday topics, far from the communiqué's vocabulary. */
function generatedDocument(number: number, sentences: number, next: () => number): string {
  const words = number % 2 === 0 ? FRENCH : ENGLISH;
  const title = number % 2 === 0 ? `Carnet numéro ${number}` : `Notebook number ${number}`;
  const lines: string[] = [];
  for (let sentence = 0; sentence < sentences; sentence += 1) {
    lines.push(
      `${pick(words.subjects, next)} ${pick(words.verbs, next)} ${pick(words.objects, next)} ${pick(words.tails, next)}` +
        ` (${number}.${sentence}).`,
    );
  }
  // Paragraphs of six sentences, as a person writes them.
  const paragraphs: string[] = [];
  for (let start = 0; start < lines.length; start += 6) paragraphs.push(lines.slice(start, start + 6).join(' '));
  return `# ${title}\n\n${paragraphs.join('\n\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------

interface IngestRun {
  outcome: 'killed' | 'finished' | 'failed';
  code: number | null;
  signal: NodeJS.Signals | null;
  pid: number;
  ms: number;
  output: string;
}

/** Runs `ingest/main.ts` in the temp project, as a user would there; SIGKILLs it after `killAfterMs` if given. */
function runIngest(root: string, env: NodeJS.ProcessEnv, killAfterMs?: number, limitMs = 300_000): Promise<IngestRun> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn(process.execPath, ['--import', TSX, path.join(PROJECT_ROOT, 'ingest', 'main.ts')], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    child.stderr.on('data', (data: Buffer) => (output += data.toString()));
    const killer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    let hung = false;
    const watchdog = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      clearTimeout(watchdog);
      children.delete(child);
      if (interruption.interrupted) return reject(new Interrupted());
      const outcome = hung ? 'failed' : signal === 'SIGKILL' ? 'killed' : code === 0 ? 'finished' : 'failed';
      if (hung) output += `\n(still running after ${limitMs} ms: killed by the watchdog)`;
      resolve({ outcome, code, signal, pid: child.pid ?? -1, ms: performance.now() - startedAt, output });
    });
  });
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
async function checkAnswer(index: LoadedIndex, root: string, loadMs: number): Promise<AnswerCheck> {
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

/** What a killed ingest left beside the index link, which tells where it was when it died. */
async function leftovers(config: Config, pid: number) {
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

function parseOptions(): { runs: number; seed: number } | number {
  return readFlags(
    {
      runs: { type: 'string', default: '20' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    USAGE,
    (values) => ({
      runs: integerFlag('runs', values.runs, 1, 1000),
      seed: values.seed === undefined ? randomInt(2 ** 31) : integerFlag('seed', values.seed, 0, 2 ** 32 - 1),
    }),
  );
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (typeof options === 'number') return options;
  const { runs, seed } = options;
  const startedAt = performance.now();
  const cpus = os.cpus();
  console.log('# Kill-ingest proof of cited-answers (scripts/kill-ingest.ts)');
  console.log(
    `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
      `load average ${os
        .loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')}; node ${process.version}`,
  );
  console.log(`seed ${seed} (repeat with --seed ${seed}), ${runs} runs`);

  // ---- the temp project
  tempRoot = await mkdtemp(path.join(os.tmpdir(), 'cited-answers-kill-'));
  const root = tempRoot;
  const corpusDir = path.join(root, 'corpus');
  await mkdir(path.join(corpusDir, 'extra'), { recursive: true });
  const corpusRandom = seededRandom(20241203);
  for (let number = 0; number < GENERATED_DOCUMENTS; number += 1) {
    await writeFile(
      path.join(corpusDir, `doc-${number}.md`),
      generatedDocument(number, SENTENCES_PER_DOCUMENT, corpusRandom),
    );
  }
  await copyFile(path.join(PROJECT_ROOT, COMMUNIQUE), path.join(root, COMMUNIQUE));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CORPUS_DIR: 'corpus',
    INDEX_DIR: path.join('data', 'index'),
    EMBEDDER: 'lexical',
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: '',
    CHAT_MODEL: '',
  };
  const config = parseConfig(env, root);
  let failures = 0;
  const fail = (message: string) => {
    failures += 1;
    console.log(`  FAILURE: ${message}`);
  };

  // ---- the first index, whose run is the measure of a full run
  const first = await runIngest(root, env);
  if (first.outcome !== 'finished') throw new Error(`the first ingest did not finish:\n${first.output}`);
  const fullRunMs = first.ms;
  let loadStartedAt = performance.now();
  let served = await loadIndex(config.indexDir, config.embedder);
  const firstAnswer = await checkAnswer(served, root, performance.now() - loadStartedAt);
  console.log(
    `temp project ${root}: ${GENERATED_DOCUMENTS + 1} documents; first index ${served.chunkCount} chunks, ` +
      `full ingest run ${Math.round(fullRunMs)} ms (process start to exit); answer ${firstAnswer.text}`,
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
  const header = ['run', 'change', 'delay ms', 'ingest', 'when', 'serves', 'chunks old→new', 'answer'];
  console.log(header.join(' | '));
  for (let run = 1; run <= runs; run += 1) {
    // Change the corpus so that the next index differs from the one served: add a new document, or remove a
    // generated one (always one the served index holds, since generated documents are only ever removed).
    let change: string;
    if (run % 2 === 1) {
      const name = `extra/run-${run}.md`;
      await writeFile(path.join(corpusDir, name), generatedDocument(1000 + run, 3 + ((run * 7) % 20), next));
      change = `+${name}`;
    } else {
      const generated = (await readdir(corpusDir)).filter((name) => /^doc-\d+\.md$/.test(name)).sort();
      const name = pick(generated, next);
      await unlink(path.join(corpusDir, name));
      change = `-${name}`;
    }
    const expected = await expectedIndex(config);
    const previous = { directory: served.directory, chunkCount: served.chunkCount };
    // Every third run aims at the end of the run, where the index is written and the link swapped.
    const share = run % 3 === 0 ? 0.85 + next() * 0.2 : next() * 1.1;
    const delayMs = Math.round(share * fullRunMs);

    const ingest = await runIngest(root, env, delayMs, Math.max(120_000, fullRunMs * 10));
    const left = await leftovers(config, ingest.pid);
    let serves = '?';
    let answer: AnswerCheck = { ok: false, text: 'not checked' };
    let loaded: LoadedIndex | undefined;
    loadStartedAt = performance.now();
    try {
      loaded = await loadIndex(config.indexDir, config.embedder);
    } catch (error) {
      answer = { ok: false, text: `index does not load: ${(error as Error).message}` };
    }
    const problems: string[] = [];
    if (expected.chunkCount === previous.chunkCount) problems.push('old and new indexes would hold as many chunks');
    if (ingest.outcome === 'failed') {
      problems.push(`ingest failed (${ingest.signal ?? ingest.code}): ${ingest.output.trim().slice(-300)}`);
    }
    if (loaded === undefined) problems.push(answer.text);
    else {
      const isOld = loaded.directory === previous.directory && loaded.chunkCount === previous.chunkCount;
      const isNew =
        sourcesKey(loaded.manifest.sources) === expected.sources && loaded.chunkCount === expected.chunkCount;
      serves = isOld ? 'old' : isNew ? 'new' : 'OTHER';
      if (!isOld && !isNew) problems.push(`serves neither index (${loaded.chunkCount} chunks, ${loaded.directory})`);
      if (![previous.chunkCount, expected.chunkCount].includes(loaded.chunkCount)) {
        problems.push(`chunk count ${loaded.chunkCount} is neither ${previous.chunkCount} nor ${expected.chunkCount}`);
      }
      if (ingest.outcome === 'finished' && !isNew) problems.push('ingest finished but the new index is not served');
      answer = await checkAnswer(loaded, root, performance.now() - loadStartedAt);
      if (!answer.ok) problems.push(`answer: ${answer.text}`);
      served = loaded;
    }

    stopIfInterrupted();
    // Where the kill landed, from what the run left on disk.
    const when =
      ingest.outcome !== 'killed'
        ? '-'
        : left.servesOwn
          ? 'after swap'
          : left.ownGeneration
            ? 'before swap'
            : left.ownStaging
              ? 'writing'
              : 'before write';
    if (ingest.outcome === 'killed') {
      counts.killed += 1;
      phases.set(when, (phases.get(when) ?? 0) + 1);
      if (serves === 'old') counts.killedServingOld += 1;
      if (serves === 'new') counts.killedServingNew += 1;
    } else if (ingest.outcome === 'finished') counts.finished += 1;

    console.log(
      [
        `${String(run).padStart(3)}/${runs}`,
        change.padEnd(17),
        String(delayMs).padStart(8),
        `${ingest.outcome.padEnd(8)} at ${String(Math.round(ingest.ms)).padStart(5)} ms`,
        when.padEnd(12),
        serves.padEnd(5),
        `${previous.chunkCount}→${expected.chunkCount}: ${loaded?.chunkCount ?? '-'}`,
        answer.text,
      ].join(' | '),
    );
    for (const problem of problems) fail(problem);
  }

  // ---- a last run to completion
  const final = await runIngest(root, env);
  const expected = await expectedIndex(config);
  const left = await leftovers(config, final.pid);
  console.log(
    `\nfinal ingest: ${final.outcome} in ${Math.round(final.ms)} ms (exit code ${final.code}); ` +
      `${final.output.trim().split('\n').at(-1) ?? ''}`,
  );
  if (final.outcome !== 'finished') fail(`the final ingest did not finish: ${final.output.trim().slice(-500)}`);
  try {
    loadStartedAt = performance.now();
    const index = await loadIndex(config.indexDir, config.embedder);
    const loadMs = performance.now() - loadStartedAt;
    const isNew = sourcesKey(index.manifest.sources) === expected.sources && index.chunkCount === expected.chunkCount;
    const answer = await checkAnswer(index, root, loadMs);
    console.log(
      `final index: ${index.chunkCount} chunks (expected ${expected.chunkCount}), ` +
        `${isNew ? 'the current corpus' : 'NOT the current corpus'}; answer ${answer.text}`,
    );
    if (!isNew) fail('the final index is not the index of the current corpus');
    if (!answer.ok) fail(`the final index does not answer: ${answer.text}`);
  } catch (error) {
    fail(`the final index does not load: ${(error as Error).message}`);
  }
  console.log(
    `beside the link after the final run: ${left.generations} generation folder(s), ${left.staging} staging ` +
      `folder(s), ${left.links} temporary link(s)`,
  );
  if (left.staging > 0 || left.links > 0 || left.generations > 2) {
    fail('a complete ingest should leave no staging folder or temporary link, and at most 2 generations');
  }

  stopIfInterrupted();
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(0);
  const summary =
    `runs ${runs}: killed mid-way ${counts.killed} (then serving old ${counts.killedServingOld}, ` +
    `new ${counts.killedServingNew}), finished before the kill ${counts.finished}, failures ${failures}; ` +
    `seed ${seed}; ${seconds} s`;
  console.log(
    `\nkills by moment (from what each left on disk): ` +
      [...phases].map(([phase, count]) => `${phase} ${count}`).join(', '),
  );
  console.log(`${failures === 0 ? 'PASS' : 'FAIL'}: ${summary}`);
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
