import { DEFAULTS } from '../defaults.js';
import { sectionTitle } from '../section-title.js';
import type { LoadedIndex } from '../index/index-store.js';
import type { Retriever } from '../retrieval/hybrid-retriever.js';
import { analyzeQuestion, detectLanguage, type QueryTerm } from '../text/analyze.js';
import { LexicalRewriter, type QuestionRewriter } from '../conversation/rewrite-question.js';
import type {
  Answer,
  AnswerOptions,
  AnswerRequest,
  CandidatePassage,
  Chunk,
  Citation,
  Language,
  RetrievedChunk,
  RetrievedPassage,
  Span,
} from '../types.js';
import { type AnswerType, answerType, canAnswer } from './answer-type.js';
import { coverage, TermStatistics, termMatch, type TextTerms, textTerms } from './relevance.js';

/** What the documents say when they do not answer, in the question's language. */
export const REFUSALS: Readonly<Record<Language, string>> = Object.freeze({
  fr: 'Les documents ne contiennent pas la réponse à cette question.',
  en: 'The documents do not contain the answer to this question.',
});

export interface ExtractiveOptions {
  minRelevance: number;
  minCrossLanguageRelevance: number;
  passageWeight: number;
  maxSentences: number;
  secondarySentenceRatio: number;
}

/** Passages retrieved for a question, each with its coverage of the question. */
export interface FoundPassages {
  terms: QueryTerm[];
  retrieved: RetrievedChunk[];
  passages: ScoredPassage[];
  retrieveMs: number;
  /** Why retrieval was partial, when it was. */
  warning: string | undefined;
}

export type ScoredPassage = RetrievedChunk & { relevance: number };

interface Candidate {
  chunk: Chunk;
  sentence: Span;
  terms: TextTerms;
  /** Coverage of the question by the sentence alone. */
  own: number;
  /** `own` blended with the coverage of the sentence's passage: what ranks the sentences. */
  score: number;
  rank: number;
}

/** A question word counts as answered by a sentence from this match on. */
const COVERED_MATCH = 0.5;

/**
 * Answers with sentences taken verbatim from the best passages, each followed by its citation marker.
 * Refuses when no passage covers enough of the question: an extractive answer cannot be better than its evidence.
 */
export class ExtractiveAnswerer {
  private readonly statistics: TermStatistics;
  private readonly chunkTerms: ReadonlyMap<string, TextTerms>;
  private readonly sentenceTerms = new Map<string, TextTerms>();

  /** `terms` are the passages' terms when already computed (see `passageTerms`); otherwise they are computed here. */
  constructor(
    index: Pick<LoadedIndex, 'chunks'>,
    private readonly retriever: Retriever,
    private readonly options: ExtractiveOptions = DEFAULTS.answering,
    private readonly rewriter: QuestionRewriter = new LexicalRewriter(),
    terms?: ReadonlyMap<string, TextTerms>,
  ) {
    this.chunkTerms = terms ?? new Map(index.chunks.map((chunk) => [chunk.id, textTerms(chunk.text, chunk.language)]));
    this.statistics = new TermStatistics([...this.chunkTerms.values()]);
  }

  /** Word statistics of the corpus, shared with the generative answerer's citation checks. */
  get termStatistics(): TermStatistics {
    return this.statistics;
  }

  async answer(request: AnswerRequest, options: AnswerOptions = {}): Promise<Answer> {
    const startedAt = performance.now();
    const language = detectLanguage(request.question);
    const question = await this.rewriter.rewrite(request.question, request.history ?? []);
    const found = await this.findPassages(question, request.k);
    const relevant = found.passages.filter(
      ({ chunk, relevance }) => relevance >= this.minRelevance(language, chunk.language),
    );
    options.onEvent?.({ type: 'citations', rewrittenQuestion: question, passages: candidatesOf(relevant) });
    const chosen = this.chooseSentences(found.terms, relevant, answerType(question));
    const citations: Citation[] = chosen.map((candidate, index) => ({
      n: index + 1,
      chunkId: candidate.chunk.id,
      source: candidate.chunk.source,
      title: sectionTitle(candidate.chunk.title, candidate.chunk.section),
      section: candidate.chunk.section,
      passage: candidate.chunk.text,
      quote: quoteOf(candidate.chunk, candidate.sentence),
      start: candidate.sentence.start,
      end: candidate.sentence.end,
      score: round(candidate.score),
    }));
    const answer: Answer = {
      answer:
        citations.length === 0
          ? REFUSALS[language]
          : citations.map((citation) => `${citation.quote} [${citation.n}]`).join(' '),
      found: citations.length > 0,
      language,
      mode: 'extractive',
      citations,
      timings: { retrieveMs: round(found.retrieveMs), totalMs: round(performance.now() - startedAt) },
    };
    if (question !== request.question) answer.rewrittenQuestion = question;
    if (found.warning !== undefined) answer.warning = found.warning;
    if (request.includePassages === true) answer.passages = found.retrieved.map(toPassage);
    if (options.onEvent !== undefined) {
      for (const piece of answer.answer.match(/\S+\s*/g) ?? []) options.onEvent({ type: 'token', text: piece });
      options.onEvent({ type: 'done', answer });
    }
    return answer;
  }

  /**
   * Retrieves the passages for a question and scores each by its coverage of the question's words, best first as
   * retrieval ranked them. A question without a content word retrieves nothing.
   */
  async findPassages(question: string, k: number | undefined): Promise<FoundPassages> {
    const startedAt = performance.now();
    const terms = analyzeQuestion(question);
    const retrieval =
      terms.length === 0 ? { hits: [] } : await this.retriever.retrieve(question, k ?? DEFAULTS.retrieval.k);
    const retrieved = retrieval.hits;
    const passages = retrieved.map((retrievedChunk) => ({
      ...retrievedChunk,
      relevance: coverage(terms, this.termsOfChunk(retrievedChunk.chunk), this.statistics),
    }));
    return { terms, retrieved, passages, retrieveMs: performance.now() - startedAt, warning: retrieval.warning };
  }

  private termsOfChunk(chunk: Chunk): TextTerms {
    return this.chunkTerms.get(chunk.id) ?? textTerms(chunk.text, chunk.language);
  }

  private termsOfSentence(chunk: Chunk, sentence: Span, key: string): TextTerms {
    let terms = this.sentenceTerms.get(key);
    if (terms === undefined) {
      terms = textTerms(quoteOf(chunk, sentence), chunk.language);
      this.sentenceTerms.set(key, terms);
    }
    return terms;
  }

  private minRelevance(questionLanguage: Language, passageLanguage: Language): number {
    return questionLanguage === passageLanguage ? this.options.minRelevance : this.options.minCrossLanguageRelevance;
  }

  /**
   * Scores every sentence of the relevant passages by its own coverage of the question blended with its passage's
   * (a sentence is more likely on topic when its neighbours are). Keeps the best, then up to `maxSentences - 1`
   * more that cover the question nearly as well on their own and answer a part of it the earlier ones left
   * uncovered. Sentences shared by overlapping passages count once.
   */
  private chooseSentences(terms: QueryTerm[], relevant: ScoredPassage[], type: AnswerType): Candidate[] {
    const candidates = new Map<string, Candidate>();
    const { passageWeight } = this.options;
    relevant.forEach(({ chunk, relevance }, rank) => {
      for (const sentence of chunk.sentences) {
        const key = `${chunk.source}:${sentence.start}:${sentence.end}`;
        if (!canAnswer(quoteOf(chunk, sentence), type)) continue;
        const sentenceTerms = this.termsOfSentence(chunk, sentence, key);
        const own = coverage(terms, sentenceTerms, this.statistics);
        const score = own === 0 ? 0 : (1 - passageWeight) * own + passageWeight * relevance;
        const previous = candidates.get(key);
        if (previous === undefined || score > previous.score) {
          candidates.set(key, { chunk, sentence, terms: sentenceTerms, own, score, rank });
        }
      }
    });
    const ranked = [...candidates.values()].sort((a, b) => b.score - a.score || a.rank - b.rank);
    const best = ranked[0];
    if (best === undefined || best.score <= 0) return [];
    const chosen = [best];
    const covered = new Set(
      terms.filter((term) => termMatch(term, best.terms) >= COVERED_MATCH).map((term) => term.word),
    );
    for (const candidate of ranked.slice(1)) {
      if (chosen.length >= this.options.maxSentences) break;
      if (candidate.own < best.own * this.options.secondarySentenceRatio) continue;
      const adds = terms.filter((term) => !covered.has(term.word) && termMatch(term, candidate.terms) >= COVERED_MATCH);
      if (adds.length === 0) continue;
      chosen.push(candidate);
      for (const term of adds) covered.add(term.word);
    }
    return chosen;
  }
}

/** Slices of work between which other work (requests) may run. */
const TERMS_SLICE = 200;

/**
 * The terms of every passage, computed a slice at a time, yielding in between: a server loading a large index
 * beside the one it serves keeps answering meanwhile.
 */
export async function passageTerms(chunks: readonly Chunk[]): Promise<Map<string, TextTerms>> {
  const terms = new Map<string, TextTerms>();
  for (let start = 0; start < chunks.length; start += TERMS_SLICE) {
    for (const chunk of chunks.slice(start, start + TERMS_SLICE))
      terms.set(chunk.id, textTerms(chunk.text, chunk.language));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return terms;
}

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
  }));
}

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
    score: round(fusedScore),
  };
}

/** The text of a sentence of a chunk. */
function quoteOf(chunk: Chunk, sentence: Span): string {
  return chunk.text.slice(sentence.start - chunk.start, sentence.end - chunk.start);
}

/** Rounds a score or a duration to three decimals for reporting. */
export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
