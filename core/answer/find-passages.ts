import { BoundedCache } from '../bounded-cache.js';
import { DEFAULTS } from '../defaults.js';
import type { Retrieval, Retriever } from '../retrieval/hybrid-retriever.js';
import { analyzeQuestion, detectLanguage, foldText, type QueryTerm, quoteOf } from '../text/analyze.js';
import type { Chunk, RetrievedChunk, Sentence } from '../types.js';
import { contextText } from '../section-title.js';
import {
  type CorpusFrequencies,
  coverage,
  type FocusText,
  focusText,
  type PassageContext,
  holdsFocus,
  type QuestionFocus,
  questionFocus,
  TermStatistics,
  type TextTerms,
  textTerms,
} from './relevance.js';

/** Passages retrieved for a question, each with its coverage of the question. */
export interface FoundPassages {
  terms: readonly QueryTerm[];
  /** Document frequencies of the question's words, which weigh every coverage of it. */
  statistics: TermStatistics;
  /** The identifiers and distinctive words any evidence must hold. */
  focus: QuestionFocus;
  retrieved: RetrievedChunk[];
  passages: ScoredPassage[];
  retrieveMs: number;
  /** Why retrieval was partial, when it was. */
  warning: string | undefined;
}

export type ScoredPassage = RetrievedChunk & {
  /** Coverage of the question by the passage, its section path and its document title. */
  relevance: number;
  /** The passage, with its context, holds the question's focus. */
  focused: boolean;
  /** Its terms, its sentences' and its context's, which the answerer reads again. */
  terms: PassageTerms;
};

/** The settings passage finding reads: how much a section path counts, and what makes a word distinctive. */
export interface FindingOptions {
  contextWeight: number;
  minFocusRarity: number;
  unknownWordWeight: number;
}

/**
 * The terms of a passage: its own (those of all its sentences), each sentence's, and those of its context (document
 * title and section path). None depends on the question, so a passage met again is not analysed again.
 */
export interface PassageTerms {
  text: FocusText;
  sentences: readonly SentenceTerms[];
  context: FocusText & PassageContext;
}

/** A sentence of a passage, its text, and its terms (analysed in its own language). */
export interface SentenceTerms {
  sentence: Sentence;
  quote: string;
  text: FocusText;
  /** The same for every passage that holds the sentence: passages may overlap. */
  key: string;
}

/** Where the document frequencies of words come from: an index's own counts, read for the words asked about. */
export interface CorpusStatistics {
  readonly chunkCount: number;
  documentFrequencies(stems: readonly string[]): Promise<ReadonlyMap<string, number>>;
}

/**
 * Retrieves the passages for a question and scores each by its coverage of the question's words: the first stage
 * of every answerer, done once per question whichever answerer ends up answering.
 */
export class PassageFinder {
  /** Word statistics of passages held in memory; undefined over an index, which is asked per question. */
  private readonly fixed: TermStatistics | undefined;
  /** Terms of the passages met lately: questions often come back to the same passages. */
  private readonly chunkTerms = new BoundedCache<string, PassageTerms>(DEFAULTS.caches.passageTerms);

  /**
   * `corpus` gives the document frequencies that weigh a question's words: an index's own counts, read for the
   * words of each question (no pass over the passages, so a finder over a large index is ready at once), or the
   * passages themselves. A passage's terms are computed when it is retrieved.
   */
  constructor(
    private readonly corpus: CorpusStatistics | readonly Chunk[],
    private readonly retriever: Retriever,
    readonly options: FindingOptions = DEFAULTS.answering,
  ) {
    this.fixed = isChunkList(corpus)
      ? new TermStatistics(
          corpus.map((chunk) => termsOfPassage(chunk).text.terms),
          options.unknownWordWeight,
        )
      : undefined;
  }

  /** Word statistics of the corpus for these words (and only these), which weigh every coverage of them. */
  async statisticsFor(terms: readonly QueryTerm[]): Promise<TermStatistics> {
    if (this.fixed !== undefined || isChunkList(this.corpus)) return this.fixed as TermStatistics;
    const stems = [...new Set(terms.flatMap((term) => term.stems))];
    const frequencies = await this.corpus.documentFrequencies(stems);
    const counts: CorpusFrequencies = {
      chunkCount: this.corpus.chunkCount,
      documentFrequency: (stem) => frequencies.get(stem) ?? 0,
    };
    return new TermStatistics(counts, this.options.unknownWordWeight);
  }

  /**
   * The passages for a question, best first as retrieval ranked them, each with its coverage of the question. A
   * question without a content word retrieves nothing. `language` is the question's, when the caller knows it.
   */
  async find(question: string, k: number | undefined, language = detectLanguage(question)): Promise<FoundPassages> {
    const startedAt = performance.now();
    const terms = analyzeQuestion(question);
    // The question's words hold the parts of its compounds that its focus looks up.
    const nothing: Retrieval = { hits: [] };
    const [statistics, retrieval] = await Promise.all([
      this.statisticsFor(terms),
      terms.length === 0 ? nothing : this.retriever.retrieve(question, k ?? DEFAULTS.retrieval.k),
    ]);
    const focus = questionFocus(question, terms, statistics, this.options.minFocusRarity);
    const retrieved = retrieval.hits;
    // Built field by field: copied by spread, the hits took a fifth of the time of an extractive answer.
    const passages = retrieved.map(({ chunk, fusedScore, vectorSimilarity, keywordScore }): ScoredPassage => {
      const passageTerms = this.termsOf(chunk);
      const { text, context } = passageTerms;
      return {
        chunk,
        fusedScore,
        vectorSimilarity,
        keywordScore,
        relevance: coverage(terms, text.terms, statistics, context, this.options.contextWeight),
        focused: holdsFocus(focus, text, context, chunk.language === language),
        terms: passageTerms,
      };
    });
    return {
      terms,
      statistics,
      focus,
      retrieved,
      passages,
      retrieveMs: performance.now() - startedAt,
      warning: retrieval.warning,
    };
  }

  /** The terms of a passage, of its sentences and of its context, kept while questions come back to it. */
  private termsOf(chunk: Chunk): PassageTerms {
    return this.chunkTerms.get(chunk.id, () => termsOfPassage(chunk));
  }
}

function isChunkList(corpus: CorpusStatistics | readonly Chunk[]): corpus is readonly Chunk[] {
  return Array.isArray(corpus);
}

/** The terms of a passage, each sentence in its language, and of its context. */
export function termsOfPassage(chunk: Chunk): PassageTerms {
  const context = contextText(chunk);
  const label = chunk.section.at(-1) ?? '';
  const outer = [chunk.title, ...chunk.section.slice(0, -1)].join('\n');
  const sentences = chunk.sentences.map((sentence): SentenceTerms => {
    const quote = quoteOf(chunk, sentence);
    return {
      sentence,
      quote,
      text: focusText(textTerms(quote, sentence.language), quote),
      key: `${chunk.source}:${sentence.start}:${sentence.end}`,
    };
  });
  return {
    text: focusText(unionOf(sentences.map((sentence) => sentence.text.terms)), chunk.text),
    sentences,
    context: {
      terms: textTerms(context, chunk.language),
      folded: foldText(context),
      label: textTerms(label, chunk.language),
      outer: textTerms(outer, chunk.language),
    },
  };
}

function unionOf(parts: readonly TextTerms[]): TextTerms {
  const words = new Set<string>();
  const stems = new Set<string>();
  for (const part of parts) {
    for (const word of part.words) words.add(word);
    for (const stem of part.stems) stems.add(stem);
  }
  return { words, stems };
}
