import type { CaseResult } from './score-case.js';
import { GROUPS, LOWER_IS_BETTER, type MetricName, type Metrics } from './summarize.js';

export type TableFormat = 'text' | 'markdown';

/** Lays out rows under headers, as aligned plain text or as a Markdown table. */
export function renderTable(headers: string[], rows: string[][], format: TableFormat): string {
  if (format === 'markdown') {
    const line = (cells: string[]) => `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
    return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
  }
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

const METRIC_LABELS: Record<MetricName, string> = {
  passRate: 'pass rate',
  hitAt1: 'hit@1',
  hitAt3: 'hit@3',
  hitAtK: 'hit@k',
  mrr: 'MRR',
  factRecall: 'fact recall',
  citationValidity: 'citation validity',
  citationSupport: 'citation support',
  answeredRight: 'answered right',
  wrongAnswerRate: 'wrong-answer rate',
  refusalAccuracy: 'refusal accuracy',
  falseRefusalRate: 'false-refusal rate',
  injectionSafety: 'injection safety',
  latencyP50Ms: 'latency p50 (ms)',
  latencyP95Ms: 'latency p95 (ms)',
  judgeFaithfulness: 'judge faithfulness',
  judgeCorrectness: 'judge correctness',
};

export function formatMetric(name: MetricName, value: number | undefined): string {
  if (value === undefined) return '–';
  return name.startsWith('latency') ? value.toFixed(1) : value.toFixed(2);
}

/**
 * The summary: a row per metric, a column per group of cases. With a second summary (the baseline), each cell reads
 * `ours / baseline`.
 */
export function renderSummary(
  summary: Record<string, Metrics>,
  format: TableFormat,
  baseline?: Record<string, Metrics>,
): string {
  const groups = GROUPS.map((group) => group.name).filter((group) => (summary[group]?.cases ?? 0) > 0);
  const headers = ['metric', ...groups.map((group) => `${group} (${summary[group]?.cases ?? 0})`)];
  const names = (Object.keys(METRIC_LABELS) as MetricName[]).filter((name) =>
    groups.some((group) => summary[group]?.[name] !== undefined || baseline?.[group]?.[name] !== undefined),
  );
  const rows = names.map((name) => [
    `${METRIC_LABELS[name]}${LOWER_IS_BETTER.has(name) ? ' ↓' : ''}`,
    ...groups.map((group) => {
      const ours = formatMetric(name, summary[group]?.[name]);
      return baseline === undefined ? ours : `${ours} / ${formatMetric(name, baseline[group]?.[name])}`;
    }),
  ]);
  return renderTable(headers, rows, format);
}

/** One row per case: what happened and, when it failed, why. */
export function renderCases(results: readonly CaseResult[], format: TableFormat): string {
  const rows = results.map((result) => [
    result.id,
    result.kind,
    result.language,
    result.passed ? 'pass' : 'FAIL',
    result.expectsPassage ? (result.hitRank === undefined ? 'miss' : `@${result.hitRank}`) : '',
    result.latencyMs.toFixed(1),
    result.problems.join('; '),
  ]);
  return renderTable(['case', 'kind', 'lang', 'result', 'hit', 'ms', 'problems'], rows, format);
}

/**
 * What the answers were, per group of results and kind of case: answered right, answered wrong, refused. For an
 * answerable case a refusal is a false refusal; for an unanswerable one any answer is wrong.
 */
export function renderOutcomes(
  groups: ReadonlyArray<{ name: string; results: readonly CaseResult[] }>,
  format: TableFormat,
): string {
  const rows = groups.flatMap(({ name, results }) =>
    (['answerable', 'unanswerable'] as const).flatMap((kind) => {
      const cases = results.filter((result) => result.kind === kind);
      if (cases.length === 0) return [];
      const count = (outcome: CaseResult['outcome']) => cases.filter((result) => result.outcome === outcome).length;
      return [
        [
          name,
          kind,
          String(cases.length),
          kind === 'answerable' ? String(count('right')) : '–',
          String(count('wrong')),
          kind === 'answerable' ? `${count('refused')} (false refusals)` : String(count('refused')),
          String(count('error')),
        ],
      ];
    }),
  );
  return renderTable(['set', 'kind', 'cases', 'answered right', 'answered wrong', 'refused', 'errors'], rows, format);
}
