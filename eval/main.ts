import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { FlagError, integerFlag, readFlags } from '../core/command-line.js';
import { type Config, ConfigError, loadConfig } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { type ChatSetup, loadChatSetup } from '../core/engine.js';
import { KnownError } from '../core/errors.js';
import { loadChatModel } from '../core/llm/create-chat-model.js';
import { CaseFileError } from './cases.js';
import { createJudge, type Judge } from './judge.js';
import { indexOf, inProcessSetTarget, type PreparedSet, prepareSet } from './prepare-set.js';
import { renderCases, renderOutcomes, renderSummary, type TableFormat } from './report.js';
import { runCases } from './run-cases.js';
import type { CaseResult } from './score-case.js';
import { type EvalSet, loadSets } from './sets.js';
import { summarize } from './summarize.js';
import { renderSweep, sweepSettings } from './sweep.js';
import { baselineTarget, type EvalTarget, httpTarget } from './targets.js';
import { checkThresholds, loadThresholds } from './thresholds.js';

const USAGE = `Usage: npm run eval -- [options]

Runs the evaluation case sets of eval/sets.json and scores the answers; exits 1 when a metric falls below
eval/thresholds.json.

Options:
  --set NAME         run only this set (repeatable; default: every set)
  --cases FILE       run this case file instead, over --corpus DIR (default: $CORPUS_DIR or corpus)
  --corpus DIR       the corpus the --cases file asks about
  --url URL          evaluate a running server's /api/answer (one set: name it with --set, or give --cases)
  --k N              passages to retrieve per question (default: ${DEFAULTS.retrieval.k})
  --baseline         also run the stock LangChain pipeline and print both side by side
  --judge            also score faithfulness and correctness with the configured chat model
                     (CHAT_MODEL or OPENAI_API_KEY; JUDGE_MODEL names another model at the same server)
  --sweep            print the risk–coverage curve of the answering thresholds instead, per set and per role
  --thresholds FILE  thresholds by set and group (default: eval/thresholds.json)
  --json FILE        write every result and the summaries as JSON
  --md FILE          write the report as Markdown
  --help             show this help`;

const SETS_FILE = path.join('eval', 'sets.json');

interface SetRun {
  prepared: PreparedSet;
  target: string;
  results: CaseResult[];
  baselineResults: CaseResult[] | undefined;
}

async function main(): Promise<number> {
  const values = readFlags(
    {
      set: { type: 'string', multiple: true },
      cases: { type: 'string' },
      corpus: { type: 'string' },
      url: { type: 'string' },
      k: { type: 'string', default: String(DEFAULTS.retrieval.k) },
      baseline: { type: 'boolean', default: false },
      judge: { type: 'boolean', default: false },
      sweep: { type: 'boolean', default: false },
      thresholds: { type: 'string', default: path.join('eval', 'thresholds.json') },
      json: { type: 'string' },
      md: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    USAGE,
    (flags) => {
      if (flags.corpus !== undefined && flags.cases === undefined) throw new FlagError('--corpus goes with --cases');
      if (flags.cases !== undefined && flags.set !== undefined) throw new FlagError('give --set or --cases, not both');
      return { ...flags, k: integerFlag('k', flags.k, 1, DEFAULTS.retrieval.maxK) };
    },
  );
  if (typeof values === 'number') return values;
  const { k } = values;
  const config = loadConfig();
  const sets = await chooseSets(config, values);
  if (values.url !== undefined && sets.length !== 1) {
    console.error('eval: --url evaluates the one corpus a server serves: name its set with --set, or give --cases.');
    return 2;
  }
  const promptsDir = path.join(config.rootDir, 'prompts');
  const chat = await loadChatSetup(config.chat, promptsDir);
  if (values.sweep) return sweep(config, sets, chat, k);

  const judge = values.judge ? await createJudge(await judgeModel(config), promptsDir) : undefined;
  const thresholds = await loadThresholds(values.thresholds);
  const runs: SetRun[] = [];
  for (const set of sets) {
    const prepared = await prepareSet(set);
    const target =
      values.url === undefined ? await inProcessSetTarget(await indexOf(config, set), chat) : httpTarget(values.url);
    const results = await run(prepared, target, k, judge);
    const baselineResults = values.baseline
      ? await run(prepared, await baselineTarget(prepared.documents), k, undefined)
      : undefined;
    runs.push({ prepared, target: target.name, results, baselineResults });
  }

  const failures = runs.flatMap(({ prepared, results }) => {
    const bounds = thresholds[prepared.set.name];
    return bounds === undefined
      ? []
      : checkThresholds(summarize(results), bounds).map((failure) => `${prepared.set.name} ${failure}`);
  });
  const report = (format: TableFormat) => renderReport(runs, failures, values.thresholds, k, format);
  console.log(report('text'));
  if (values.md !== undefined) await writeFile(values.md, `# Evaluation\n\n${report('markdown')}\n`);
  if (values.json !== undefined) {
    const sets = runs.map(({ prepared, target, results, baselineResults }) => ({
      set: prepared.set.name,
      role: prepared.set.role,
      target,
      summary: summarize(results),
      baselineSummary: baselineResults === undefined ? undefined : summarize(baselineResults),
      results,
      baselineResults,
    }));
    await writeFile(values.json, `${JSON.stringify({ k, failures, sets }, null, 2)}\n`);
  }
  return failures.length === 0 ? 0 : 1;
}

/** The sets to run: those named, every set of eval/sets.json, or one made of a --cases file and its corpus. */
async function chooseSets(
  config: Readonly<Config>,
  values: { set?: string[] | undefined; cases?: string | undefined; corpus?: string | undefined },
): Promise<EvalSet[]> {
  if (values.cases !== undefined) {
    const casesFile = path.resolve(values.cases);
    return [
      {
        name: path.basename(casesFile, '.jsonl'),
        corpusDir: values.corpus === undefined ? config.corpusDir : path.resolve(values.corpus),
        casesFile,
        role: 'tuning',
      },
    ];
  }
  const all = await loadSets(path.join(config.rootDir, SETS_FILE), config.rootDir);
  if (values.set === undefined) return all;
  return values.set.map((name) => {
    const found = all.find((set) => set.name === name);
    if (found === undefined) {
      throw new CaseFileError(
        `No set named ${name} in ${SETS_FILE}; there are ${all.map((set) => set.name).join(', ')}.`,
      );
    }
    return found;
  });
}

function run(prepared: PreparedSet, target: EvalTarget, k: number, judge: Judge | undefined): Promise<CaseResult[]> {
  const { cases, sourceTexts, set } = prepared;
  console.error(`Running ${cases.length} cases of ${set.name} against ${target.name}…`);
  return runCases(cases, target, {
    k,
    sourceTexts,
    judge,
    onResult: (result, index, total) => {
      const position = `[${String(index + 1).padStart(String(total).length)}/${total}]`;
      console.error(
        `${position} ${result.id.padEnd(14)} ${result.passed ? 'pass' : 'FAIL'} ${result.latencyMs.toFixed(1)} ms`,
      );
    },
  });
}

function renderReport(
  runs: readonly SetRun[],
  failures: readonly string[],
  thresholdsFile: string,
  k: number,
  format: TableFormat,
): string {
  const heading = (title: string) => (format === 'markdown' ? `## ${title}` : `== ${title}`);
  const subheading = (title: string) => (format === 'markdown' ? `### ${title}` : title);
  const parts: string[] = [];
  for (const { prepared, target, results, baselineResults } of runs) {
    const { set } = prepared;
    parts.push(heading(`${set.name} (${set.role}): ${results.length} cases against ${target}`));
    const failed = results.filter((result) => !result.passed);
    parts.push(subheading(`Cases that failed (${failed.length})`), renderCases(failed, format));
    const legend =
      baselineResults === undefined
        ? []
        : [`Each cell: ${target} / baseline (stock LangChain: 1000/200 splitter, BM25 top-${k}, top passage).`];
    const baseline = baselineResults === undefined ? undefined : summarize(baselineResults);
    parts.push(subheading('Summary'), ...legend, renderSummary(summarize(results), format, baseline));
  }
  if (runs.length > 1) {
    for (const role of ['tuning', 'held-out'] as const) {
      const pooled = runs.filter((run) => run.prepared.set.role === role).flatMap((run) => run.results);
      if (pooled.length === 0) continue;
      const names = runs.filter((run) => run.prepared.set.role === role).map((run) => run.prepared.set.name);
      parts.push(heading(`All ${role} sets (${names.join(', ')})`), renderSummary(summarize(pooled), format));
    }
  }
  parts.push(
    heading('Outcomes'),
    renderOutcomes(
      runs.map((run) => ({ name: `${run.prepared.set.name} (${run.prepared.set.role})`, results: run.results })),
      format,
    ),
  );
  parts.push(
    failures.length === 0
      ? `All thresholds of ${thresholdsFile} hold.`
      : `Below thresholds:\n${failures.map((failure) => `- ${failure}`).join('\n')}`,
  );
  return parts.join('\n\n');
}

/** Runs every set at every setting of the answering thresholds and prints the risk–coverage curves. */
async function sweep(
  config: Readonly<Config>,
  sets: readonly EvalSet[],
  chat: ChatSetup | undefined,
  k: number,
): Promise<number> {
  const settings = sweepSettings(DEFAULTS.answering);
  const bySet: Array<{ set: EvalSet; results: CaseResult[][] }> = [];
  for (const set of sets) {
    const prepared = await prepareSet(set);
    const index = await indexOf(config, set);
    const results: CaseResult[][] = [];
    for (const setting of settings) {
      const target = await inProcessSetTarget(index, chat, setting.answering);
      results.push(await runCases(prepared.cases, target, { k, sourceTexts: prepared.sourceTexts }));
    }
    console.error(`Swept ${set.name}: ${settings.length} settings × ${prepared.cases.length} cases.`);
    bySet.push({ set, results });
  }
  const parts: string[] = [
    'Risk–coverage of the answering thresholds (* marks the shipped setting). Settings are chosen on the tuning ' +
      'sets only; the held-out sets show how they do on documents they were not chosen on.',
  ];
  const pooled = (chosen: typeof bySet) =>
    settings.map((_setting, index) => chosen.flatMap(({ results }) => results[index] ?? []));
  for (const role of ['tuning', 'held-out'] as const) {
    const chosen = bySet.filter(({ set }) => set.role === role);
    if (chosen.length === 0) continue;
    parts.push(`== All ${role} sets (${chosen.map(({ set }) => set.name).join(', ')})`);
    parts.push(renderSweep(settings, pooled(chosen), 'text'));
  }
  for (const { set, results } of bySet) {
    parts.push(`== ${set.name} (${set.role})`, renderSweep(settings, results, 'text'));
  }
  console.log(parts.join('\n\n'));
  return 0;
}

/** The chat model that judges: the configured one, or the one JUDGE_MODEL names at the same server. */
function judgeModel({ chat, judgeModel: judge }: Config): Promise<BaseChatModel> {
  const model = judge ?? chat?.model;
  if (chat === undefined || model === undefined) {
    throw new ConfigError(
      '--judge needs a chat model: set CHAT_MODEL (or OPENAI_API_KEY), and optionally JUDGE_MODEL.',
    );
  }
  return loadChatModel({ ...chat, model, temperature: 0 });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof KnownError ? `eval: ${error.message}` : error);
    process.exitCode = 1;
  },
);
