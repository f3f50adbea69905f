import { z } from 'zod';

/*
 * The shapes of the responses, for the OpenAPI document. The request schemas are the ones the routes validate
 * with; these describe what the routes send, and a test checks real responses against them. Objects are strict:
 * a field a response gains must be documented here, or that test fails.
 */

export const errorSchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string() }).strict(),
  })
  .strict()
  .describe('Every error of /api and of the server: a stable code and a readable message.');

export const healthSchema = z
  .object({
    status: z.literal('ok'),
    chunks: z.number().int().nonnegative(),
    generation: z.string().describe('The index generation served: a new one after each ingest.'),
  })
  .strict();

export const citationSchema = z
  .object({
    n: z.number().int().min(1).describe('The number of the `[n]` marker in the answer.'),
    chunkId: z.string(),
    source: z.string().describe('The source document, as the index names it.'),
    title: z.string().describe('"Document title › section": where the quote is, as a reader would name it.'),
    section: z
      .array(z.string())
      .describe("The labels the quote is under, outermost first; empty before a document's first heading."),
    passage: z.string().describe('The passage the quote was taken from; it contains the quote.'),
    quote: z.string().describe('The cited sentence: exactly `text.slice(start, end)` of the source.'),
    page: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('For a PDF: the page the quote starts on, from 1, as a PDF viewer counts them.'),
    start: z.number().int().nonnegative(),
    end: z.number().int().nonnegative(),
    score: z.number().min(0).max(1).describe("The quoted sentence's coverage of the question."),
  })
  .strict();

export const retrievedPassageSchema = z
  .object({
    rank: z.number().int().min(1),
    chunkId: z.string(),
    source: z.string(),
    title: z.string(),
    section: z.array(z.string()),
    page: z.number().int().min(1).optional().describe('For a PDF: the page the passage starts on, from 1.'),
    start: z.number().int().nonnegative(),
    end: z.number().int().nonnegative(),
    text: z.string(),
    score: z.number(),
  })
  .strict();

export const answerSchema = z
  .object({
    answer: z.string(),
    found: z.boolean().describe('false: the documents do not answer; the answer says so and cites nothing.'),
    language: z.enum(['fr', 'en']),
    mode: z.enum(['extractive', 'generative', 'extractive-fallback']),
    citations: z.array(citationSchema),
    timings: z.object({ retrieveMs: z.number(), totalMs: z.number(), firstTokenMs: z.number().optional() }).strict(),
    rewrittenQuestion: z.string().optional().describe('The question as searched, when a follow-up was rewritten.'),
    unsupported: z.array(z.string()).optional().describe('Sentences of a generated answer that cite nothing.'),
    usage: z.object({ promptTokens: z.number(), completionTokens: z.number() }).strict().optional(),
    warning: z.string().optional(),
    passages: z.array(retrievedPassageSchema).optional().describe('Only with `includePassages`.'),
  })
  .strict();

/** The event stream of the chat routes, described in words: OpenAPI has no schema for the events of a stream. */
export const answerEventStreamDescription = [
  'Server-Sent Events, in this order:',
  '`citations` `{ rewrittenQuestion, passages }` (the candidate passages, numbered);',
  '`token` `{ text }` as the answer is written (a draft: markers are renumbered when verified);',
  '`done` with the verified answer (the `Answer` schema), or `error` with the `Error` schema.',
  'A comment line is sent every 15 s to keep the connection open.',
].join(' ');

export const sourceListSchema = z
  .object({
    sources: z.array(
      z
        .object({
          source: z.string(),
          title: z.string(),
          language: z.enum(['fr', 'en']),
          chars: z.number().int().nonnegative(),
          chunks: z.number().int().nonnegative(),
        })
        .strict(),
    ),
  })
  .strict();

export const sourceTextSchema = z
  .object({
    source: z.string(),
    title: z.string(),
    language: z.enum(['fr', 'en']),
    text: z.string().describe("The citable text: every citation's `start` and `end` are offsets in it."),
    sections: z
      .array(
        z
          .object({
            start: z.number().int().nonnegative(),
            end: z.number().int().nonnegative(),
            section: z.array(z.string()),
          })
          .strict(),
      )
      .describe('The indexed text, run by run of the same section path, in order.'),
    pages: z
      .array(z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() }).strict())
      .optional()
      .describe(
        'For a PDF: page `n` is `text.slice(pages[n - 1].start, pages[n - 1].end)` (empty for a page without text).',
      ),
  })
  .strict();

export const openAiErrorSchema = z
  .object({
    error: z.object({ message: z.string(), type: z.string(), code: z.string(), param: z.string().nullable() }).strict(),
  })
  .strict()
  .describe("An error of /v1, shaped as OpenAI's; in a stream, sent as a `data:` line of its own.");

export const modelSchema = z
  .object({
    id: z.string(),
    object: z.literal('model'),
    created: z.number().int(),
    owned_by: z.string(),
  })
  .strict();

export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelSchema) }).strict();

const annotationSchema = z
  .object({
    type: z.literal('url_citation'),
    url_citation: z
      .object({
        start_index: z.number().int().nonnegative().describe('Where the `[n]` marker starts in `content` (UTF-16).'),
        end_index: z.number().int().nonnegative().describe('Where it ends, exclusive.'),
        url: z.string().describe('The cited range of the source on this server, unique per source and range.'),
        title: z.string(),
        content: z.string().describe('The quoted sentence.'),
      })
      .strict(),
  })
  .strict();

const sourceSchema = citationSchema.extend({ url: z.string() }).strict();

const usageSchema = z
  .object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() })
  .strict();

const detailsSchema = z
  .object({
    found: z.boolean(),
    mode: z.enum(['extractive', 'generative', 'extractive-fallback']),
    language: z.enum(['fr', 'en']),
    warning: z.string().optional(),
    rewritten_question: z.string().optional(),
    unsupported: z.array(z.string()).optional(),
  })
  .strict()
  .describe("What the answer adds to OpenAI's fields, under a name OpenAI does not use.");

/** The fields every completion and chunk of one reply share, `object` naming which it is. */
function envelopeOf<T extends 'chat.completion' | 'chat.completion.chunk'>(object: T) {
  return {
    id: z.string(),
    object: z.literal(object),
    created: z.number().int(),
    model: z.string(),
    system_fingerprint: z.null(),
  };
}

export const chatCompletionSchema = z
  .object({
    ...envelopeOf('chat.completion'),
    choices: z.array(
      z
        .object({
          index: z.literal(0),
          finish_reason: z.literal('stop'),
          logprobs: z.null(),
          message: z
            .object({
              role: z.literal('assistant'),
              content: z.string(),
              refusal: z.null(),
              annotations: z.array(annotationSchema).describe('One per `[n]` marker of `content`.'),
              sources: z.array(sourceSchema).describe('The full citations, with their links.'),
            })
            .strict(),
        })
        .strict(),
    ),
    usage: usageSchema,
    citations: z.array(z.string()).describe("The links of the citations, in order of `n` (Perplexity's shape)."),
    cited_answers: detailsSchema,
  })
  .strict();

export const chatCompletionChunkSchema = z
  .object({
    ...envelopeOf('chat.completion.chunk'),
    choices: z.array(
      z
        .object({
          index: z.literal(0),
          delta: z
            .object({
              role: z.literal('assistant').optional(),
              content: z.string().optional(),
              refusal: z.null().optional(),
              annotations: z.array(annotationSchema).optional(),
              sources: z.array(sourceSchema).optional(),
            })
            .strict(),
          logprobs: z.null(),
          // A union rather than .nullable(): the generator drops null from the enum of a nullable literal.
          finish_reason: z.union([z.literal('stop'), z.null()]),
        })
        .strict(),
    ),
    usage: usageSchema.optional(),
    citations: z.array(z.string()).optional(),
    cited_answers: detailsSchema.optional(),
  })
  .strict()
  .describe(
    'One `data:` line of a streamed completion: a chunk with the role, chunks of content, one chunk whose delta ' +
      'holds the whole `annotations` and `sources` (with `citations` and `cited_answers` beside it), the chunk ' +
      'with the finish reason, a usage chunk with no choice when `stream_options.include_usage` is set, then ' +
      '`data: [DONE]`.',
  );
