import type { Answer } from '../types.js';

/** What the citation contract needs of an answer: its text and its citations, as the API returns them. */
export type CitedAnswer = Pick<Answer, 'answer'> & {
  citations: ReadonlyArray<Pick<Answer['citations'][number], 'n' | 'source' | 'quote' | 'start' | 'end' | 'passage'>>;
};

/** `[2]`: a citation marker as answers write them. */
const MARKER = /\[(\d+)\]/g;

/**
 * Checks the answer and citation contract; returns what breaks it, or nothing when it holds. Every `[n]` of the
 * answer has exactly one citation numbered `n`, every citation is referenced, each quote is the text of its source
 * at its offsets (`text.slice(start, end) === quote`), and each passage contains its quote. `sourceText` gives the
 * text a source had when it was indexed (for HTML, the text extracted from it), or undefined for an unknown source.
 * The one definition of the contract, shared by the evaluation, the proof scripts and the tests.
 */
export function citationProblems(answer: CitedAnswer, sourceText: (source: string) => string | undefined): string[] {
  const problems: string[] = [];
  const markers = [...answer.answer.matchAll(MARKER)].map((match) => Number(match[1]));
  const numbers = answer.citations.map((citation) => citation.n);
  for (const marker of new Set(markers)) {
    const count = numbers.filter((n) => n === marker).length;
    if (count !== 1) problems.push(`[${marker}] has ${count} citations`);
  }
  for (const n of numbers) if (!markers.includes(n)) problems.push(`citation ${n} is never referenced`);
  for (const citation of answer.citations) {
    const text = sourceText(citation.source);
    if (text === undefined) problems.push(`citation ${citation.n}: source ${citation.source} is unknown`);
    else if (text.slice(citation.start, citation.end) !== citation.quote) {
      problems.push(`citation ${citation.n}: quote not at ${citation.start}-${citation.end} of ${citation.source}`);
    }
    if (!citation.passage.includes(citation.quote)) {
      problems.push(`citation ${citation.n}: quote not in its passage`);
    }
  }
  return problems;
}

/**
 * The text of every source an answer cites, read once each with `read` (from disk, or from the loaded documents),
 * for `citationProblems`; a source `read` cannot give is left out, and so reported unknown.
 */
export async function citedSourceTexts(
  answer: Pick<CitedAnswer, 'citations'>,
  read: (source: string) => Promise<string | undefined>,
): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const source of new Set(answer.citations.map((citation) => citation.source))) {
    const text = await read(source);
    if (text !== undefined) texts.set(source, text);
  }
  return texts;
}
