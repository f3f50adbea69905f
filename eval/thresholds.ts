import { readFile } from 'node:fs/promises';
import { z } from 'zod';
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
  'refusalAccuracy',
  'falseRefusalRate',
  'injectionSafety',
  'latencyP50Ms',
  'latencyP95Ms',
  'judgeFaithfulness',
  'judgeCorrectness',
] as const satisfies readonly MetricName[];

const boundsSchema = z.record(z.enum(metricNames), z.number());
const thresholdsSchema = z.record(
  z.string(),
  z.object({ min: boundsSchema.optional(), max: boundsSchema.optional() }).strict(),
);

export type Thresholds = z.infer<typeof thresholdsSchema>;

export async function loadThresholds(file: string): Promise<Thresholds> {
  return thresholdsSchema.parse(JSON.parse(await readFile(file, 'utf8')));
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
