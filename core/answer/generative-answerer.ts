import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { AIMessageChunk } from '@langchain/core/messages';
import { LexicalRewriter, type QuestionRewriter } from '../conversation/rewrite-question.js';
import { DEFAULTS } from '../defaults.js';
import type { Prompts } from '../llm/prompts.js';
import { analyzeQuestion, detectLanguage } from '../text/analyze.js';
import type { Answer, AnswerOptions, AnswerRequest, Language } from '../types.js';
import { candidatesOf, REFUSALS, round, toPassage } from './answer-parts.js';
import type { ExtractiveAnswerer } from './extractive-answerer.js';
import type { PassageFinder } from './find-passages.js';
import { VerifiedAnswerStream } from './verified-answer-stream.js';
import { verifyCitations } from './verify-citations.js';

const LANGUAGE_NAMES: Record<Language, string> = { fr: 'French', en: 'English' };

export interface GenerativeOptions {
  timeoutMs: number;
  minRelevance: number;
  notFoundSentinel: string;
}

/** The model failed in a way the extractive answer can stand in for. */
class GenerationFailure extends Error {}

/** What a generative answerer is built from. */
export interface GenerativeParts {
  model: BaseChatModel;
  prompts: Prompts;
  /** Finds and scores the passages, once per question. */
  finder: PassageFinder;
  /** Answers from the passages already found when the model fails. */
  fallback: ExtractiveAnswerer;
  rewriter: QuestionRewriter;
  options?: GenerativeOptions;
}

/**
 * Answers with a language model writing from the numbered passages, then verifies every citation. Without a
 * relevant passage the model is not asked. When the model fails, times out or cites nothing, the extractive answer
 * from the same passages stands in, marked `extractive-fallback` with a warning.
 */
export class GenerativeAnswerer {
  private readonly model: BaseChatModel;
  private readonly prompts: Prompts;
  private readonly finder: PassageFinder;
  private readonly fallback: ExtractiveAnswerer;
  private readonly rewriter: QuestionRewriter;
  private readonly options: GenerativeOptions;

  constructor(parts: GenerativeParts) {
    this.model = parts.model;
    this.prompts = parts.prompts;
    this.finder = parts.finder;
    this.fallback = parts.fallback;
    this.rewriter = parts.rewriter;
    this.options = parts.options ?? {
      timeoutMs: DEFAULTS.generation.timeoutMs,
      minRelevance: DEFAULTS.generation.minRelevance,
      notFoundSentinel: DEFAULTS.generation.notFoundSentinel,
    };
  }

  async answer(request: AnswerRequest, options: AnswerOptions = {}): Promise<Answer> {
    const startedAt = performance.now();
    options.signal?.throwIfAborted();
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
    const language = detectLanguage(request.question);
    const history = request.history ?? [];
    const question = await this.rewriter.rewrite(request.question, history, signal).catch(() => {
      options.signal?.throwIfAborted();
      return new LexicalRewriter().rewrite(request.question, history);
    });
    // The question asked, unless rewritten: its language is known already.
    const found = await this.finder.find(question, request.k, question === request.question ? language : undefined);
    // A passage that misses what the question is about (an option it names, a rare word) is not shown to the model.
    const relevant = found.passages.filter(
      (passage) => passage.focused && passage.relevance >= this.options.minRelevance,
    );
    options.onEvent?.({ type: 'citations', rewrittenQuestion: question, passages: candidatesOf(relevant) });
    options.signal?.throwIfAborted();
    const verifiedTokens =
      options.verifiedTokens === true
        ? new VerifiedAnswerStream(relevant.length, language, this.options.notFoundSentinel)
        : undefined;

    const finish = (answer: Answer): Answer => {
      // The part of the answer no token has carried yet, unless what was released is not how the answer begins.
      const released = verifiedTokens?.released;
      if (released !== undefined && answer.answer.startsWith(released) && answer.answer.length > released.length) {
        options.onEvent?.({ type: 'token', text: answer.answer.slice(released.length) });
      }
      if (question !== request.question) answer.rewrittenQuestion = question;
      if (answer.warning === undefined && found.warning !== undefined) answer.warning = found.warning;
      if (request.includePassages === true) answer.passages = found.retrieved.map(toPassage);
      answer.timings.totalMs = round(performance.now() - startedAt);
      options.onEvent?.({ type: 'done', answer });
      return answer;
    };
    const fallback = (warning: string): Answer => {
      const answer = this.fallback.answerFromPassages(question, language, found);
      return finish({ ...answer, mode: 'extractive-fallback', warning });
    };

    if (relevant.length === 0) {
      return finish({
        answer: REFUSALS[language],
        found: false,
        language,
        mode: 'generative',
        citations: [],
        timings: { retrieveMs: round(found.retrieveMs), totalMs: 0 },
      });
    }

    let generated: Generated;
    try {
      generated = await this.generate(question, language, relevant, signal, options, verifiedTokens);
    } catch (error) {
      options.signal?.throwIfAborted();
      const reason = deadline.aborted ? `did not answer within ${this.options.timeoutMs} ms` : describe(error);
      return fallback(`The language model ${reason}; this answer is quoted from the documents instead.`);
    }
    const timings = {
      retrieveMs: round(found.retrieveMs),
      totalMs: 0,
      ...(generated.firstTokenMs === undefined ? {} : { firstTokenMs: round(generated.firstTokenMs - startedAt) }),
    };
    const common = {
      language,
      mode: 'generative' as const,
      timings,
      ...(generated.usage ? { usage: generated.usage } : {}),
    };
    if (generated.text.includes(this.options.notFoundSentinel)) {
      return finish({ ...common, answer: REFUSALS[language], found: false, citations: [] });
    }
    const verified = verifyCitations(
      generated.text,
      relevant.map((passage) => passage.chunk),
      language,
      await this.finder.statisticsFor(analyzeQuestion(generated.text)),
    );
    if (verified.citations.length === 0) {
      return fallback('The language model cited no passage; this answer is quoted from the documents instead.');
    }
    return finish({
      ...common,
      answer: verified.answer,
      found: true,
      citations: verified.citations,
      unsupported: verified.unsupported,
    });
  }

  /** Streams the model's answer, forwarding each piece of text (or of its verified form) as a token event. */
  private async generate(
    question: string,
    language: Language,
    relevant: ReadonlyArray<{ chunk: { title: string; text: string } }>,
    signal: AbortSignal,
    options: AnswerOptions,
    verifiedTokens: VerifiedAnswerStream | undefined,
  ): Promise<Generated> {
    const messages = await this.prompts.answer.formatMessages({
      language: LANGUAGE_NAMES[language],
      not_found: this.options.notFoundSentinel,
      passages: relevant.map(({ chunk }, index) => `[${index + 1}] (${chunk.title})\n${chunk.text}`).join('\n\n'),
      question,
    });
    let text = '';
    let firstTokenMs: number | undefined;
    let usage: Generated['usage'];
    const stream = await this.model.stream(messages, { signal });
    for await (const chunk of stream as AsyncIterable<AIMessageChunk>) {
      const piece = typeof chunk.content === 'string' ? chunk.content : '';
      if (piece !== '') {
        firstTokenMs ??= performance.now();
        text += piece;
        const released = verifiedTokens === undefined ? piece : verifiedTokens.push(piece);
        if (released !== '') options.onEvent?.({ type: 'token', text: released });
      }
      if (chunk.usage_metadata !== undefined) {
        usage = {
          promptTokens: chunk.usage_metadata.input_tokens,
          completionTokens: chunk.usage_metadata.output_tokens,
        };
      }
    }
    if (text.trim() === '') throw new GenerationFailure('returned an empty answer');
    return { text, firstTokenMs, usage };
  }
}

interface Generated {
  text: string;
  firstTokenMs: number | undefined;
  usage: { promptTokens: number; completionTokens: number } | undefined;
}

function describe(error: unknown): string {
  if (error instanceof GenerationFailure) return error.message;
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' ? `failed (HTTP ${status})` : 'failed';
}
