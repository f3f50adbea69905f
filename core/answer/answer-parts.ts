import { sectionTitle } from '../section-title.js';
import type { CandidatePassage, Language, RetrievedChunk, RetrievedPassage } from '../types.js';

/** What the documents say when they do not answer, in the question's language. */
export const REFUSALS: Readonly<Record<Language, string>> = Object.freeze({
  fr: 'Les documents ne contiennent pas la réponse à cette question.',
  en: 'The documents do not contain the answer to this question.',
});

/** Passages numbered from 1, as the citations event and the prompt show them. */
export function candidatesOf(passages: readonly RetrievedChunk[]): CandidatePassage[] {
  return passages.map(({ chunk }, index) => ({
    n: index + 1,
    chunkId: chunk.id,
    source: chunk.source,
    title: sectionTitle(chunk.title, chunk.section),
    section: chunk.section,
    passage: chunk.text,
    start: chunk.start,
    end: chunk.end,
    ...pageOf(chunk),
  }));
}

/** A retrieved passage as an answer reports it on request, ranked from 1. */
export function toPassage({ chunk, fusedScore }: RetrievedChunk, index: number): RetrievedPassage {
  return {
    rank: index + 1,
    chunkId: chunk.id,
    source: chunk.source,
    title: sectionTitle(chunk.title, chunk.section),
    section: chunk.section,
    start: chunk.start,
    end: chunk.end,
    text: chunk.text,
    ...pageOf(chunk),
    score: round(fusedScore),
  };
}

/** `{ page }` for a passage or sentence of a paged document, nothing otherwise, so that other answers keep no field. */
export function pageOf(span: { page?: number | undefined }): { page?: number } {
  return span.page === undefined ? {} : { page: span.page };
}

/** Rounds a score or a duration to three decimals for reporting. */
export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
