import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { CaseFileError } from './cases.js';
import { formatMetric } from './report.js';
import type { MetricName, Metrics } from './summarize.js';

const metricNames = [
  'passRate',
  'hitAt1',
  'hitAt3',
  'hitAtK',
  'mrr',
  'factRecall',
  'citationValidity',
  'citationSupport',
  'answeredRight',
  'wrongAnswerRate',
  'refusalAccuracy',
  'falseRefusalRate',
  'injectionSafety',
  'latencyP50Ms',
  'latencyP95Ms',
  'judgeFaithfulness',
  'judgeCorrectness',
] as const satisfies readonly MetricName[];

const boundsSchema = z.record(z.enum(metricNames), z.number());
const groupBoundsSchema = z.record(
  z.string(),
  z.object({ min: boundsSchema.optional(), max: boundsSchema.optional() }).strict(),
);
/** Bounds by case set, then by group of cases. */
const thresholdsSchema = z.record(z.string(), groupBoundsSchema);

/** The bounds of one case set, by group. */
export type Thresholds = z.infer<typeof groupBoundsSchema>;

/** Reads the bounds of every case set; a file that does not parse is a CaseFileError naming it. */
export async function loadThresholds(file: string): Promise<Record<string, Thresholds>> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new CaseFileError(`Cannot read the thresholds file ${file}.`);
  });
  try {
    return thresholdsSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new CaseFileError(
      `${file} does not hold thresholds by set and group (${(error as Error).message.split('\n')[0]}).`,
    );
  }
}

/** The bounds a summary breaks, as sentences; a bound on a metric the run did not measure is broken too. */
export function checkThresholds(summary: Record<string, Metrics>, thresholds: Thresholds): string[] {
  const failures: string[] = [];
  for (const [group, bounds] of Object.entries(thresholds)) {
    const metrics = summary[group];
    for (const [kind, limits] of [
      ['min', bounds.min],
      ['max', bounds.max],
    ] as const) {
      for (const [name, limit] of Object.entries(limits ?? {}) as Array<[MetricName, number]>) {
        const value = metrics?.[name];
        const broken = value === undefined || (kind === 'min' ? value < limit : value > limit);
        if (broken) {
          failures.push(
            `${group} ${name} ${formatMetric(name, value)} is ${kind === 'min' ? 'below' : 'above'} ${limit}`,
          );
        }
      }
    }
  }
  return failures;
}
