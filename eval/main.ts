import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { integerFlag, readFlags } from '../core/command-line.js';
import { type Config, ConfigError, loadConfig } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createEngine, loadChatSetup } from '../core/engine.js';
import { KnownError } from '../core/errors.js';
import { loadIndex } from '../core/index/index-store.js';
import { createChatModel } from '../core/llm/create-chat-model.js';
import { ingest, staleReason } from '../ingest/build-index.js';
import { loadDocuments } from '../ingest/load-documents.js';
import { loadCases } from './cases.js';
import { createJudge } from './judge.js';
import { renderCases, renderSummary, type TableFormat } from './report.js';
import { runCases } from './run-cases.js';
import type { CaseResult } from './score-case.js';
import { summarize } from './summarize.js';
import { baselineTarget, type EvalTarget, httpTarget, inProcessTarget } from './targets.js';
import { checkThresholds, loadThresholds } from './thresholds.js';

const USAGE = `Usage: npm run eval -- [options]

Runs the evaluation cases and scores the answers; exits 1 when a metric falls below eval/thresholds.json.

Options:
  --url URL          evaluate a running server's /api/answer instead of the index in this process
  --cases FILE       case file (default: eval/cases/communique.jsonl)
  --k N              passages to retrieve per question (default: ${DEFAULTS.retrieval.k})
  --baseline         also run the stock LangChain pipeline and print both side by side
  --judge            also score faithfulness and correctness with the configured chat model
                     (CHAT_MODEL or OPENAI_API_KEY; JUDGE_MODEL names another model at the same server)
  --thresholds FILE  thresholds (default: eval/thresholds.json)
  --json FILE        write every result and the summaries as JSON
  --md FILE          write the report as Markdown
  --help             show this help`;

async function main(): Promise<number> {
  const values = readFlags(
    {
      url: { type: 'string' },
      cases: { type: 'string', default: path.join('eval', 'cases', 'communique.jsonl') },
      k: { type: 'string', default: String(DEFAULTS.retrieval.k) },
      baseline: { type: 'boolean', default: false },
      judge: { type: 'boolean', default: false },
      thresholds: { type: 'string', default: path.join('eval', 'thresholds.json') },
      json: { type: 'string' },
      md: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    USAGE,
    (flags) => ({ ...flags, k: integerFlag('k', flags.k, 1, DEFAULTS.retrieval.maxK) }),
  );
  if (typeof values === 'number') return values;
  const { k } = values;

  const config = loadConfig();
  const documents = await loadDocuments(config.corpusDir, config.rootDir);
  const sourceTexts = new Map(documents.map((document) => [document.source, document.text]));
  const cases = await loadCases(values.cases, (source) => Promise.resolve(sourceTexts.get(source)));
  const thresholds = await loadThresholds(values.thresholds);

  const promptsDir = path.join(config.rootDir, 'prompts');
  let target: EvalTarget;
  if (values.url === undefined) {
    const reason = await staleReason(config);
    if (reason !== undefined) {
      console.error(`Building the index: ${reason}.`);
      await ingest(config);
    }
    const chatSetup = await loadChatSetup(config.chat, promptsDir);
    target = inProcessTarget(
      (await createEngine(await loadIndex(config.indexDir, config.embedder), chatSetup)).answerer,
    );
  } else {
    target = httpTarget(values.url);
  }
  const judge = values.judge ? await createJudge(judgeModel(config), promptsDir) : undefined;

  const run = async (which: EvalTarget): Promise<CaseResult[]> => {
    console.error(`Running ${cases.length} cases against ${which.name}…`);
    return runCases(cases, which, {
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
  };
  const results = await run(target);
  const baselineResults = values.baseline ? await run(await baselineTarget(documents)) : undefined;

  const summary = summarize(results);
  const baselineSummary = baselineResults === undefined ? undefined : summarize(baselineResults);
  const failures = checkThresholds(summary, thresholds);
  const report = (format: TableFormat) => {
    const heading = (title: string) => (format === 'markdown' ? `## ${title}` : title);
    const legend =
      baselineSummary === undefined
        ? []
        : [`Each cell: ${target.name} / baseline (stock LangChain: 1000/200 splitter, BM25 top-${k}, top passage).`];
    const verdict =
      failures.length === 0
        ? `All thresholds of ${values.thresholds} hold.`
        : `Below thresholds:\n${failures.map((failure) => `- ${failure}`).join('\n')}`;
    return [
      heading('Cases'),
      renderCases(results, format),
      heading('Summary'),
      ...legend,
      renderSummary(summary, format, baselineSummary),
      verdict,
    ].join('\n\n');
  };

  console.log(report('text'));
  if (values.md !== undefined) await writeFile(values.md, `# Evaluation\n\n${report('markdown')}\n`);
  if (values.json !== undefined) {
    await writeFile(
      values.json,
      `${JSON.stringify({ target: target.name, k, summary, baselineSummary, failures, results, baselineResults }, null, 2)}\n`,
    );
  }
  return failures.length === 0 ? 0 : 1;
}

/** The chat model that judges: the configured one, or the one JUDGE_MODEL names at the same server. */
function judgeModel({ chat, judgeModel: judge }: Config): BaseChatModel {
  const model = judge ?? chat?.model;
  if (chat === undefined || model === undefined) {
    throw new ConfigError(
      '--judge needs a chat model: set CHAT_MODEL (or OPENAI_API_KEY), and optionally JUDGE_MODEL.',
    );
  }
  return createChatModel({ ...chat, model, temperature: 0 });
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
