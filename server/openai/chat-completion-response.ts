import type { Answer, Citation } from '../../core/types.js';

/** What every completion and chunk of one reply shares. */
export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

/** An OpenAI `url_citation` annotation: where a marker sits in `content` and the cited text it links to. */
export interface UrlCitationAnnotation {
  type: 'url_citation';
  url_citation: { start_index: number; end_index: number; url: string; title: string; content: string };
}

/** A citation as `message.sources` carries it: every field the answer's citation has, and its link. */
export type SourceEntry = Citation & { url: string };

/** What the answer adds to OpenAI's message, in fields OpenAI does not use. */
export interface CitedAnswerDetails {
  found: boolean;
  mode: Answer['mode'];
  language: Answer['language'];
  warning?: string;
  rewritten_question?: string;
  unsupported?: string[];
}

/**
 * The link of a citation: the source's citable text on this server with the quoted range as an RFC 5147 fragment,
 * so that two passages of one source are two URLs and clients that group sources by URL keep them apart.
 */
export function citationUrl(baseUrl: string, citation: Pick<Citation, 'source' | 'start' | 'end'>): string {
  return `${baseUrl}/api/sources/${encodeURIComponent(citation.source)}#char=${citation.start},${citation.end}`;
}

/** A citation marker as the answers write them. */
const MARKER = /\[(\d+)\]/g;

/**
 * One annotation per `[n]` marker of the answer that names a citation, at the marker's UTF-16 offsets in the
 * content (`offset` is where the answer starts in it). Brackets inside a quoted sentence are the document's, not
 * markers, so the quotes of an extractive answer are skipped.
 */
export function annotationsOf(answer: Answer, baseUrl: string, offset = 0): UrlCitationAnnotation[] {
  const byNumber = new Map(answer.citations.map((citation) => [citation.n, citation]));
  const quoted: Array<[number, number]> = [];
  let cursor = 0;
  for (const citation of answer.citations) {
    const at = answer.answer.indexOf(citation.quote, cursor);
    if (at === -1) continue;
    quoted.push([at, at + citation.quote.length]);
    cursor = at + citation.quote.length;
  }
  const annotations: UrlCitationAnnotation[] = [];
  for (const match of answer.answer.matchAll(MARKER)) {
    const citation = byNumber.get(Number(match[1]));
    const start = match.index;
    if (citation === undefined || quoted.some(([from, to]) => start >= from && start < to)) continue;
    annotations.push({
      type: 'url_citation',
      url_citation: {
        start_index: offset + start,
        end_index: offset + start + match[0].length,
        url: citationUrl(baseUrl, citation),
        title: citation.title,
        content: citation.quote,
      },
    });
  }
  return annotations;
}

/** The answer's citations with their links, in the order of their numbers. */
export function sourcesOf(answer: Answer, baseUrl: string): SourceEntry[] {
  return [...answer.citations]
    .sort((a, b) => a.n - b.n)
    .map((citation) => ({ ...citation, url: citationUrl(baseUrl, citation) }));
}

/** `found`, `mode` and the rest, for clients that want more than OpenAI's fields. */
export function detailsOf(answer: Answer): CitedAnswerDetails {
  return {
    found: answer.found,
    mode: answer.mode,
    language: answer.language,
    ...(answer.warning === undefined ? {} : { warning: answer.warning }),
    ...(answer.rewrittenQuestion === undefined ? {} : { rewritten_question: answer.rewrittenQuestion }),
    ...(answer.unsupported === undefined || answer.unsupported.length === 0 ? {} : { unsupported: answer.unsupported }),
  };
}

/** Tokens the model used; an extractive answer uses none. */
export function usageOf(answer: Answer): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const prompt = answer.usage?.promptTokens ?? 0;
  const completion = answer.usage?.completionTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** The fields every completion and chunk of one reply share. */
function envelope<T extends 'chat.completion' | 'chat.completion.chunk'>(meta: CompletionMeta, object: T) {
  return { id: meta.id, object, created: meta.created, model: meta.model, system_fingerprint: null };
}

/**
 * A whole answer as a `chat.completion`: the fields the official client's types expect, the citations as
 * `message.annotations` (read by clients that know OpenAI's web search), `message.sources` (ours, complete) and a
 * top-level `citations` list of URLs (Perplexity's shape), and `cited_answers` with `found`, `mode` and the rest.
 */
export function chatCompletion(answer: Answer, meta: CompletionMeta, baseUrl: string) {
  const sources = sourcesOf(answer, baseUrl);
  return {
    ...envelope(meta, 'chat.completion' as const),
    choices: [
      {
        index: 0,
        finish_reason: 'stop' as const,
        logprobs: null,
        message: {
          role: 'assistant' as const,
          content: answer.answer,
          refusal: null,
          annotations: annotationsOf(answer, baseUrl),
          sources,
        },
      },
    ],
    usage: usageOf(answer),
    citations: sources.map((source) => source.url),
    cited_answers: detailsOf(answer),
  };
}

/** A `chat.completion.chunk` of a streamed reply, with `extra` top-level fields when given. */
export function completionChunk(
  meta: CompletionMeta,
  delta: Record<string, unknown>,
  finishReason: 'stop' | null = null,
  extra: Record<string, unknown> = {},
) {
  return {
    ...envelope(meta, 'chat.completion.chunk' as const),
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...extra,
  };
}

/** The last chunk when the client asked for usage: no choice, the usage. */
export function usageChunk(meta: CompletionMeta, answer: Answer) {
  return {
    ...envelope(meta, 'chat.completion.chunk' as const),
    choices: [],
    usage: usageOf(answer),
  };
}
