import type { ExtractiveOptions } from '../core/answer/extractive-answerer.js';
import { renderTable, type TableFormat } from './report.js';
import type { CaseResult } from './score-case.js';

/** One setting of the answering thresholds tried by `--sweep`. */
export interface SweepSetting {
  label: string;
  answering: ExtractiveOptions;
  /** The setting the product ships with. */
  current: boolean;
}

/** Same-language relevance bars tried, from lenient to strict. */
const BARS = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8];

/**
 * The settings a sweep tries: the relevance bar from lenient to strict, the cross-language bar moving with it in the
 * proportion the current settings keep between the two.
 */
export function sweepSettings(current: ExtractiveOptions): SweepSetting[] {
  const ratio = current.minCrossLanguageRelevance / current.minRelevance;
  const bars = [...new Set([...BARS, current.minRelevance])].sort((a, b) => a - b);
  return bars.map((bar) => ({
    label: `bar ${bar.toFixed(2)} / cross ${(bar * ratio).toFixed(2)}`,
    answering: { ...current, minRelevance: bar, minCrossLanguageRelevance: bar * ratio },
    current: bar === current.minRelevance,
  }));
}

/** A point of the risk–coverage curve: what a setting does to answerable and unanswerable cases. */
export interface RiskCoverage {
  answerable: number;
  /** Share of answerable cases answered (rightly or wrongly). */
  coverage: number | undefined;
  /** Share of answerable cases answered wrongly. */
  risk: number | undefined;
  /** Share of answerable cases answered rightly. */
  right: number | undefined;
  unanswerable: number;
  /** Share of unanswerable cases refused. */
  refusalAccuracy: number | undefined;
}

export function riskCoverage(results: readonly CaseResult[]): RiskCoverage {
  const answerable = results.filter((result) => result.kind === 'answerable');
  const unanswerable = results.filter((result) => result.kind === 'unanswerable');
  const share = (items: readonly CaseResult[], test: (result: CaseResult) => boolean) =>
    items.length === 0 ? undefined : items.filter(test).length / items.length;
  return {
    answerable: answerable.length,
    coverage: share(answerable, (result) => result.found),
    risk: share(answerable, (result) => result.outcome === 'wrong'),
    right: share(answerable, (result) => result.outcome === 'right'),
    unanswerable: unanswerable.length,
    refusalAccuracy: share(unanswerable, (result) => !result.found),
  };
}

/** The curve of one group of cases: a row per setting, the shipped one marked. */
export function renderSweep(
  settings: readonly SweepSetting[],
  results: ReadonlyArray<readonly CaseResult[]>,
  format: TableFormat,
): string {
  const percent = (value: number | undefined) => (value === undefined ? '–' : `${(value * 100).toFixed(0)} %`);
  const rows = settings.map((setting, index) => {
    const point = riskCoverage(results[index] ?? []);
    return [
      `${setting.label}${setting.current ? ' *' : ''}`,
      percent(point.coverage),
      percent(point.right),
      percent(point.risk),
      percent(point.refusalAccuracy),
    ];
  });
  const first = riskCoverage(results[0] ?? []);
  return renderTable(
    [
      'setting',
      `answered (of ${first.answerable})`,
      'answered right',
      'answered wrong',
      `refusal accuracy (of ${first.unanswerable})`,
    ],
    rows,
    format,
  );
}
