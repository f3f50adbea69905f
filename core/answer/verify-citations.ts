import { sectionTitle } from '../section-title.js';
import { analyzeQuestion, quoteOf } from '../text/analyze.js';
import { splitTextIntoSentences } from '../text/split-sentences.js';
import type { Chunk, Citation, Language, Sentence } from '../types.js';
import { pageOf } from './answer-parts.js';
import { coverage, type TermStatistics, textTerms } from './relevance.js';

/** A generated answer after its markers were checked against the passages it was given. */
export interface VerifiedAnswer {
  /** The answer with markers renumbered 1…m in order of appearance, invented ones removed. */
  answer: string;
  citations: Citation[];
  /** Sentences that cite no passage. */
  unsupported: string[];
}

/** `[2]`, `[1, 3]`, `[1][2]`: the forms in which models write citation markers. */
const MARKER = /\s*\[(\d+(?:\s*,\s*\d+)*)\]/g;

/** A generated answer's sentences with their markers checked and renumbered, before any quote is chosen. */
export interface RenumberedAnswer {
  /** Each sentence as the verified answer writes it: its claim, then its markers renumbered, e.g. `… Wiesbaden. [1]`. */
  sentences: Array<{ claim: string; written: string }>;
  /** Passage number (as the prompt numbered it) → citation number, in order of first appearance. */
  numbering: Map<number, number>;
  /** The claims made with each cited passage, by passage number. */
  claimsByPassage: Map<number, string[]>;
  /** Sentences that cite no passage. */
  unsupported: string[];
}

/**
 * The text half of verification: splits a generated answer into sentences, drops the markers that name no passage,
 * moves each sentence's markers to its end and renumbers them 1…m in order of appearance. Pure and cheap, so it can
 * also run on the part of an answer written so far.
 */
export function renumberMarkers(text: string, passageCount: number, language: Language): RenumberedAnswer {
  // A marker written after the full stop ("… Wiesbaden. [1] Il …") belongs to the sentence before it.
  const attached = text.replace(/([.!?…])((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)/g, '$2$1');
  const spans = splitTextIntoSentences(attached, language).flat();
  const numbering = new Map<number, number>();
  const claimsByPassage = new Map<number, string[]>();
  const unsupported: string[] = [];
  const sentences = spans.map((span) => {
    const sentence = attached.slice(span.start, span.end);
    const cited = [...sentence.matchAll(MARKER)]
      .flatMap((match) => (match[1] ?? '').split(',').map((number) => Number(number.trim())))
      .filter((n) => Number.isInteger(n) && n >= 1 && n <= passageCount);
    const claim = sentence.replace(MARKER, '').trim();
    const distinct = [...new Set(cited)];
    if (distinct.length === 0) {
      if (/[\p{L}\p{N}]/u.test(claim)) unsupported.push(claim);
      return { claim, written: claim };
    }
    for (const n of distinct) {
      if (!numbering.has(n)) numbering.set(n, numbering.size + 1);
      claimsByPassage.set(n, [...(claimsByPassage.get(n) ?? []), claim]);
    }
    const markers = distinct.map((n) => numbering.get(n) ?? 0).sort((a, b) => a - b);
    return { claim, written: `${claim} ${markers.map((n) => `[${n}]`).join(' ')}` };
  });
  return { sentences, numbering, claimsByPassage, unsupported };
}

/**
 * Checks every `[n]` of a generated answer against the numbered passages (passage n is `passages[n - 1]`): markers
 * that name no passage are removed, each cited passage becomes one citation whose quote is the passage sentence
 * that best supports the answer sentences citing it, with its exact offsets, and uncited sentences are reported.
 */
export function verifyCitations(
  text: string,
  passages: readonly Chunk[],
  language: Language,
  statistics: TermStatistics,
): VerifiedAnswer {
  const { sentences, numbering, claimsByPassage, unsupported } = renumberMarkers(text, passages.length, language);
  const citations = [...numbering].map(([n, renumbered]): Citation => {
    const chunk = passages[n - 1] as Chunk;
    const claims = analyzeQuestion((claimsByPassage.get(n) ?? []).join(' '));
    let best: Pick<Sentence, 'start' | 'end' | 'page'> & { score: number } = {
      start: chunk.start,
      end: chunk.end,
      ...pageOf(chunk),
      score: 0,
    };
    for (const sentence of chunk.sentences) {
      const quote = quoteOf(chunk, sentence);
      const score = coverage(claims, textTerms(quote, chunk.language), statistics);
      if (score > best.score) best = { ...sentence, score };
    }
    if (best.score === 0 && chunk.sentences[0] !== undefined) best = { ...chunk.sentences[0], score: 0 };
    return {
      n: renumbered,
      chunkId: chunk.id,
      source: chunk.source,
      title: sectionTitle(chunk.title, chunk.section),
      section: chunk.section,
      passage: chunk.text,
      quote: quoteOf(chunk, best),
      start: best.start,
      end: best.end,
      ...pageOf(best),
      score: Math.round(best.score * 1000) / 1000,
    };
  });
  const answer = sentences.map((sentence) => sentence.written).join(' ');
  return { answer, citations: citations.sort((a, b) => a.n - b.n), unsupported };
}
