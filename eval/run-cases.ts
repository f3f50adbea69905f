import { type EvalCase, tagsOf } from './cases.js';
import type { Judge } from './judge.js';
import { type CaseResult, scoreCase } from './score-case.js';
import type { EvalTarget } from './targets.js';

export interface RunOptions {
  k: number;
  /** Text of every source, by path relative to the project root, as it was indexed. */
  sourceTexts: ReadonlyMap<string, string>;
  judge?: Judge | undefined;
  onResult?: (result: CaseResult, index: number, total: number) => void;
}

/**
 * Asks a target every question, one at a time so that latencies are not inflated by each other, and scores the
 * answers. A failed request fails its case; it does not stop the run.
 */
export async function runCases(
  cases: readonly EvalCase[],
  target: EvalTarget,
  options: RunOptions,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const [index, evalCase] of cases.entries()) {
    const startedAt = performance.now();
    let result: CaseResult;
    try {
      const answer = await target.answer(evalCase.question, options.k);
      result = scoreCase(evalCase, answer, performance.now() - startedAt, options.sourceTexts);
      if (options.judge !== undefined) {
        result.judge = await options.judge.judge(evalCase, answer).catch((error: unknown) => {
          result.problems.push(`judge: ${(error as Error).message}`);
          return undefined;
        });
      }
    } catch (error) {
      result = failedResult(evalCase, performance.now() - startedAt, (error as Error).message);
    }
    results.push(result);
    options.onResult?.(result, index, cases.length);
  }
  return results;
}

function failedResult(evalCase: EvalCase, latencyMs: number, message: string): CaseResult {
  return {
    id: evalCase.id,
    kind: evalCase.kind,
    language: evalCase.language,
    tags: tagsOf(evalCase),
    outcome: 'error',
    passed: false,
    found: false,
    answer: '',
    latencyMs,
    expectsPassage: evalCase.expectedQuote !== undefined,
    hitRank: undefined,
    retrieved: 0,
    factRecall: evalCase.mustMention === undefined ? undefined : false,
    citationValid: undefined,
    citationSupport: undefined,
    problems: [`error: ${message}`],
  };
}
