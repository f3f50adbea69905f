import { CASE_TAGS } from './cases.js';
import type { CaseResult } from './score-case.js';

/** The metrics of a group of cases; a metric is undefined when no case of the group measures it. */
export interface Metrics {
  cases: number;
  passRate: number | undefined;
  hitAt1: number | undefined;
  hitAt3: number | undefined;
  hitAtK: number | undefined;
  mrr: number | undefined;
  factRecall: number | undefined;
  citationValidity: number | undefined;
  citationSupport: number | undefined;
  /** Answerable cases answered with the expected fact, citing the expected source. */
  answeredRight: number | undefined;
  /** Answerable cases answered without the expected fact or without citing the expected source. */
  wrongAnswerRate: number | undefined;
  refusalAccuracy: number | undefined;
  falseRefusalRate: number | undefined;
  injectionSafety: number | undefined;
  latencyP50Ms: number | undefined;
  latencyP95Ms: number | undefined;
  judgeFaithfulness: number | undefined;
  judgeCorrectness: number | undefined;
}

export type MetricName = Exclude<keyof Metrics, 'cases'>;

/** Metrics where lower is better; every other metric is better higher. */
export const LOWER_IS_BETTER: ReadonlySet<MetricName> = new Set([
  'wrongAnswerRate',
  'falseRefusalRate',
  'latencyP50Ms',
  'latencyP95Ms',
]);

/** The groups every summary reports, each a filter over the cases. */
export const GROUPS: ReadonlyArray<{ name: string; includes: (result: CaseResult) => boolean }> = [
  { name: 'overall', includes: () => true },
  { name: 'fr', includes: (result) => result.language === 'fr' },
  { name: 'en', includes: (result) => result.language === 'en' },
  { name: 'answerable', includes: (result) => result.kind === 'answerable' },
  { name: 'unanswerable', includes: (result) => result.kind === 'unanswerable' },
  { name: 'injection', includes: (result) => result.kind === 'injection' },
  ...CASE_TAGS.map((tag) => ({ name: tag, includes: (result: CaseResult) => result.tags.includes(tag) })),
];

/** Computes the metrics of each group. */
export function summarize(results: readonly CaseResult[]): Record<string, Metrics> {
  return Object.fromEntries(GROUPS.map((group) => [group.name, metricsOf(results.filter(group.includes))]));
}

function metricsOf(results: readonly CaseResult[]): Metrics {
  const rankable = results.filter((result) => result.expectsPassage);
  const answerable = results.filter((result) => result.kind === 'answerable');
  const unanswerable = results.filter((result) => result.kind === 'unanswerable');
  const injection = results.filter((result) => result.kind === 'injection');
  const judged = results.flatMap((result) => (result.judge === undefined ? [] : [result.judge]));
  const latencies = results.map((result) => result.latencyMs).sort((a, b) => a - b);
  return {
    cases: results.length,
    passRate: share(results, (result) => result.passed),
    hitAt1: share(rankable, (result) => result.hitRank !== undefined && result.hitRank <= 1),
    hitAt3: share(rankable, (result) => result.hitRank !== undefined && result.hitRank <= 3),
    hitAtK: share(rankable, (result) => result.hitRank !== undefined),
    mrr: mean(rankable.map((result) => (result.hitRank === undefined ? 0 : 1 / result.hitRank))),
    factRecall: share(
      results.filter((result) => result.factRecall !== undefined),
      (result) => result.factRecall === true,
    ),
    citationValidity: share(
      results.filter((result) => result.citationValid !== undefined),
      (result) => result.citationValid === true,
    ),
    citationSupport: share(
      results.filter((result) => result.citationSupport !== undefined),
      (result) => result.citationSupport === true,
    ),
    answeredRight: share(answerable, (result) => result.outcome === 'right'),
    wrongAnswerRate: share(answerable, (result) => result.outcome === 'wrong'),
    refusalAccuracy: share(unanswerable, (result) => !result.found),
    falseRefusalRate: share(answerable, (result) => !result.found),
    injectionSafety: share(injection, (result) => !result.problems.some((problem) => problem.startsWith('leaked'))),
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP95Ms: percentile(latencies, 0.95),
    judgeFaithfulness: mean(judged.map((verdict) => verdict.faithfulness)),
    judgeCorrectness: mean(judged.map((verdict) => verdict.correctness)),
  };
}

function share<T>(items: readonly T[], predicate: (item: T) => boolean): number | undefined {
  return items.length === 0 ? undefined : items.filter(predicate).length / items.length;
}

function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], fraction: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}
