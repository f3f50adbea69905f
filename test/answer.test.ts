import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REFUSALS } from '../core/answer/answer-parts.js';
import { citationProblems, citedSourceTexts } from '../core/answer/citation-contract.js';
import type { Answer } from '../core/types.js';
import { useCorpusEngine } from './helpers/test-index.js';
import { RETRIEVAL_CASES, UNANSWERABLE_CASES } from './retrieval-cases.js';

const corpus = useCorpusEngine();

/** Checks the citation contract, and that each extractive citation follows the sentence it quotes. */
async function expectVerifiableCitations(answer: Answer, root: string): Promise<void> {
  const texts = await citedSourceTexts(answer, (source) => readFile(path.join(root, source), 'utf8'));
  expect(citationProblems(answer, (source) => texts.get(source))).toEqual([]);
  for (const citation of answer.citations) {
    expect(answer.answer).toContain(`${citation.quote} [${citation.n}]`);
    expect(citation.score).toBeGreaterThan(0);
    expect(citation.score).toBeLessThanOrEqual(1);
  }
}

describe('extractive answers', () => {
  it.each(RETRIEVAL_CASES)('answers from the right passage: $question', async ({ question, expectedQuote, why }) => {
    const answer = await corpus.engine.answerer.answer({ question });
    expect(answer.found, why).toBe(true);
    expect(answer.mode).toBe('extractive');
    expect(
      answer.citations.some((citation) => citation.quote.includes(expectedQuote)),
      why,
    ).toBe(true);
    await expectVerifiableCitations(answer, corpus.workspace.root);
  });

  it.each(UNANSWERABLE_CASES)('refuses in the question’s language: $question', async ({ question, language, why }) => {
    const answer = await corpus.engine.answerer.answer({ question });
    expect(answer.found, why).toBe(false);
    expect(answer.citations).toEqual([]);
    expect(answer.language).toBe(language);
    expect(answer.answer).toBe(REFUSALS[language]);
  });

  it('answers in few sentences, never the same one twice', async () => {
    for (const { question } of RETRIEVAL_CASES) {
      const { citations } = await corpus.engine.answerer.answer({ question, k: 9 });
      expect(citations.length).toBeLessThanOrEqual(3);
      expect(new Set(citations.map((citation) => `${citation.source}:${citation.start}`)).size).toBe(citations.length);
    }
  });

  it('refuses a question with no content word', async () => {
    const answer = await corpus.engine.answerer.answer({ question: 'Et alors ?' });
    expect(answer.found).toBe(false);
    expect(answer.answer).toBe(REFUSALS.fr);
  });

  it('reports its timings', async () => {
    const { timings } = await corpus.engine.answerer.answer({ question: 'Qui est Kaja Kallas ?' });
    expect(timings.retrieveMs).toBeGreaterThanOrEqual(0);
    expect(timings.totalMs).toBeGreaterThanOrEqual(timings.retrieveMs);
  });
});
