import { LexicalRewriter, type QuestionRewriter } from '../conversation/rewrite-question.js';
import { DEFAULTS } from '../defaults.js';
import { sectionTitle } from '../section-title.js';
import { detectLanguage } from '../text/analyze.js';
import type { Answer, AnswerOptions, AnswerRequest, Chunk, Citation, Language, Sentence } from '../types.js';
import { candidatesOf, pageOf, REFUSALS, round, toPassage } from './answer-parts.js';
import { type AnswerType, answerType, canAnswer } from './answer-type.js';
import type { FindingOptions, FoundPassages, PassageFinder } from './find-passages.js';
import { coverage, holdsFocus, termMatch, type TextTerms } from './relevance.js';

export interface ExtractiveOptions extends FindingOptions {
  minRelevance: number;
  minCrossLanguageRelevance: number;
  passageWeight: number;
  maxSentences: number;
  secondarySentenceRatio: number;
  minNovelWords: number;
}

interface Candidate {
  chunk: Chunk;
  sentence: Sentence;
  quote: string;
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
  constructor(
    private readonly finder: PassageFinder,
    private readonly options: ExtractiveOptions = DEFAULTS.answering,
    private readonly rewriter: QuestionRewriter = new LexicalRewriter(),
  ) {}

  async answer(request: AnswerRequest, options: AnswerOptions = {}): Promise<Answer> {
    const startedAt = performance.now();
    options.signal?.throwIfAborted();
    const language = detectLanguage(request.question);
    const question = await this.rewriter.rewrite(request.question, request.history ?? []);
    // The question asked, unless rewritten: its language is known already.
    const found = await this.finder.find(question, request.k, question === request.question ? language : undefined);
    options.signal?.throwIfAborted();
    const chosen = this.choose(question, language, found);
    const cited = found.passages.filter((passage) => chosen.some((candidate) => candidate.chunk === passage.chunk));
    options.onEvent?.({ type: 'citations', rewrittenQuestion: question, passages: candidatesOf(cited) });
    options.signal?.throwIfAborted();
    const answer = this.answerWith(chosen, language, found);
    answer.timings.totalMs = round(performance.now() - startedAt);
    if (question !== request.question) answer.rewrittenQuestion = question;
    if (request.includePassages === true) answer.passages = found.retrieved.map(toPassage);
    if (options.onEvent !== undefined) {
      for (const piece of answer.answer.match(/\S+\s*/g) ?? []) options.onEvent({ type: 'token', text: piece });
      options.onEvent({ type: 'done', answer });
    }
    return answer;
  }

  /**
   * Answers a (standalone) question from passages already found for it, in the given language: what the
   * generative answerer falls back on without retrieving a second time. `timings.totalMs` is left to the caller.
   */
  answerFromPassages(question: string, language: Language, found: FoundPassages): Answer {
    return this.answerWith(this.choose(question, language, found), language, found);
  }

  /** The sentences that answer a question from the passages found for it: none when none is evidence enough. */
  private choose(question: string, language: Language, found: FoundPassages): Candidate[] {
    return this.chooseSentences(found, answerType(question), language);
  }

  private answerWith(chosen: readonly Candidate[], language: Language, found: FoundPassages): Answer {
    const citations: Citation[] = chosen.map((candidate, index) => ({
      n: index + 1,
      chunkId: candidate.chunk.id,
      source: candidate.chunk.source,
      title: sectionTitle(candidate.chunk.title, candidate.chunk.section),
      section: candidate.chunk.section,
      passage: candidate.chunk.text,
      quote: candidate.quote,
      start: candidate.sentence.start,
      end: candidate.sentence.end,
      ...pageOf(candidate.sentence),
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
      timings: { retrieveMs: round(found.retrieveMs), totalMs: 0 },
    };
    if (found.warning !== undefined) answer.warning = found.warning;
    return answer;
  }

  private minRelevance(questionLanguage: Language, sentenceLanguage: Language): number {
    return questionLanguage === sentenceLanguage ? this.options.minRelevance : this.options.minCrossLanguageRelevance;
  }

  /**
   * Keeps the sentences that can answer and are evidence: covering, with their section label, enough of the
   * question (by a bar that depends on the languages), holding its focus, adding something to it. Ranks them by
   * that coverage blended with their passage's (a sentence is more likely on topic when its neighbours are). Keeps
   * the best, then up to `maxSentences - 1` more that cover the question nearly as well and answer a part of it the
   * earlier ones left uncovered. Sentences shared by overlapping passages count once.
   */
  private chooseSentences(
    { terms, focus, passages, statistics }: FoundPassages,
    type: AnswerType,
    language: Language,
  ): Candidate[] {
    const candidates = new Map<string, Candidate>();
    const { passageWeight, contextWeight } = this.options;
    const asked = new Set(terms.flatMap((term) => term.stems));
    passages.forEach(({ chunk, relevance, terms: { sentences, context } }, rank) => {
      for (const { sentence, quote, text, key } of sentences) {
        if (!canAnswer(quote, type) || !canStandAlone(sentence, quote)) continue;
        if (novelWords(asked, text.terms) < this.options.minNovelWords) continue;
        if (!holdsFocus(focus, text, context, sentence.language === language)) continue;
        const own = coverage(terms, text.terms, statistics, context, contextWeight);
        if (own < this.minRelevance(language, sentence.language)) continue;
        const score = own === 0 ? 0 : (1 - passageWeight) * own + passageWeight * relevance;
        const previous = candidates.get(key);
        if (previous === undefined || score > previous.score) {
          candidates.set(key, { chunk, sentence, quote, terms: text.terms, own, score, rank });
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

/**
 * Whether a sentence can be an answer by itself. A piece of code or a question cannot: code is what the prose
 * around it explains, and a question line (« Comment… ? ») only repeats what was asked. Nor can a sentence holding
 * a note reference such as « [3] », which would read as a citation marker of the answer.
 */
function canStandAlone(sentence: Sentence, quote: string): boolean {
  let standsAlone = STANDS_ALONE.get(sentence);
  if (standsAlone === undefined) {
    standsAlone = sentence.kind !== 'code' && !/\?\s*["»”)]*$/u.test(quote) && !/\[\d+(?:\s*,\s*\d+)*\]/.test(quote);
    STANDS_ALONE.set(sentence, standsAlone);
  }
  return standsAlone;
}

/** `canStandAlone` of the sentences of the passages kept in memory: it depends on the sentence alone. */
const STANDS_ALONE = new WeakMap<Sentence, boolean>();

/** How many words of a sentence the question (its terms' stems) does not already say: an answer must add something. */
function novelWords(asked: ReadonlySet<string>, sentence: TextTerms): number {
  let novel = 0;
  for (const stem of sentence.stems) if (!asked.has(stem)) novel += 1;
  return novel;
}
