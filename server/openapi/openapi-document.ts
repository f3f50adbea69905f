import {
  extendZodWithOpenApi,
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { chatCompletionRequestSchema } from '../openai/chat-completion-request.js';
import { answerRequestSchema } from '../routes/answer-routes.js';
import { embedChatRequestSchema } from '../routes/embed-routes.js';
import {
  answerEventStreamDescription,
  answerSchema,
  chatCompletionChunkSchema,
  chatCompletionSchema,
  citationSchema,
  errorSchema,
  healthSchema,
  modelListSchema,
  modelSchema,
  openAiErrorSchema,
  retrievedPassageSchema,
  sourceListSchema,
  sourceTextSchema,
} from './response-schemas.js';

// Gives zod schemas the `.openapi()` the generator reads names and examples from; it changes no validation.
extendZodWithOpenApi(z);

export interface OpenApiOptions {
  /** The id /v1 serves the index under. */
  modelName: string;
  /** Where clients reach the server; absent: the document's own origin. */
  publicUrl: string | undefined;
}

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the routes validate requests with and
 * the schemas of their responses.
 */
export function openApiDocument(options: OpenApiOptions) {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'Needed on /api and /v1 when the server sets API_KEYS.',
  });
  const secured = [{ [bearer.name]: [] }];
  const ErrorBody = registry.register('Error', errorSchema);
  const OpenAiError = registry.register('OpenAiError', openAiErrorSchema);
  registry.register('Citation', citationSchema);
  registry.register('RetrievedPassage', retrievedPassageSchema);
  const Answer = registry.register('Answer', answerSchema);
  const AnswerRequest = registry.register('AnswerRequest', answerRequestSchema);
  const ChatCompletionRequest = registry.register('ChatCompletionRequest', chatCompletionRequestSchema);
  const ChatCompletion = registry.register('ChatCompletion', chatCompletionSchema);
  registry.register('ChatCompletionChunk', chatCompletionChunkSchema);
  const Model = registry.register('Model', modelSchema);
  const SourceText = registry.register('SourceText', sourceTextSchema);
  const sourceName = z.object({
    source: z.string().openapi({
      description: 'The name of an indexed source, as citations give it; its slashes may be encoded or not.',
      example: 'corpus/report.txt',
    }),
  });

  const json = (schema: z.ZodTypeAny, description: string): ResponseConfig => ({
    description,
    content: { 'application/json': { schema } },
  });
  const errors = (schema: z.ZodTypeAny, statuses: Record<number, string>) =>
    Object.fromEntries(Object.entries(statuses).map(([status, description]) => [status, json(schema, description)]));
  const apiErrors = {
    400: 'The body is not a valid request; the message says why.',
    401: 'An API key is needed, or the one sent is not valid.',
    413: 'The body is too large.',
    415: 'The body is not JSON.',
    429: 'Too many requests; `Retry-After` says when to try again.',
    503: 'No index is loaded yet, its database does not answer, or the answer took too long.',
  };

  registry.registerPath({
    method: 'get',
    path: '/healthz',
    tags: ['Server'],
    summary: 'Health check',
    responses: {
      200: json(healthSchema, 'The server is up, with the number of indexed passages.'),
      ...errors(ErrorBody, { 503: 'No index is loaded yet, or the database that holds it does not answer.' }),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/answer',
    tags: ['Answers'],
    summary: 'Answer a question, with citations',
    description:
      'Every `[n]` of the answer has one citation, whose `quote` is exactly the source text between `start` and ' +
      '`end`. When the documents do not answer, `found` is false and the answer says so.',
    security: secured,
    request: { body: { required: true, content: { 'application/json': { schema: AnswerRequest } } } },
    responses: { 200: json(Answer, 'The verified answer.'), ...errors(ErrorBody, apiErrors) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/chat',
    tags: ['Answers'],
    summary: 'Answer a question as a stream of events',
    security: secured,
    request: { body: { required: true, content: { 'application/json': { schema: AnswerRequest } } } },
    responses: {
      200: {
        description: answerEventStreamDescription,
        content: { 'text/event-stream': { schema: z.string() } },
      },
      ...errors(ErrorBody, apiErrors),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/sources',
    tags: ['Answers'],
    summary: 'The indexed sources',
    security: secured,
    responses: {
      200: json(sourceListSchema, 'Every indexed source.'),
      ...errors(ErrorBody, { 401: apiErrors[401], 429: apiErrors[429], 503: 'No index is loaded yet.' }),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/sources/{source}',
    tags: ['Answers'],
    summary: "A source's citable text, to check a citation",
    description: 'The text every citation of this source has its offsets in (for HTML, the text extracted from it).',
    security: secured,
    request: { params: sourceName },
    responses: {
      200: json(SourceText, 'The source.'),
      ...errors(ErrorBody, {
        401: apiErrors[401],
        404: 'No indexed source has this name.',
        429: apiErrors[429],
        503: 'No index is loaded yet.',
      }),
    },
  });

  const openAiErrors = {
    400: 'A parameter is invalid or cannot be honoured (`n` above 1, tools, a JSON format…); `param` names it.',
    401: 'An API key is needed, or the one sent is not valid.',
    404: 'No such model (`model_not_found`) or route.',
    429: 'Too many requests; `Retry-After` says when to try again.',
    503: 'No index is loaded yet, its database does not answer, or the answer took too long.',
  };
  registry.registerPath({
    method: 'get',
    path: '/v1/models',
    tags: ['OpenAI-compatible'],
    summary: 'The served index, as the one model (OpenAI-compatible)',
    security: secured,
    responses: { 200: json(modelListSchema, 'One model.'), ...errors(OpenAiError, { 401: openAiErrors[401] }) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/models/{id}',
    tags: ['OpenAI-compatible'],
    summary: 'The served model (OpenAI-compatible)',
    security: secured,
    request: { params: z.object({ id: z.string().openapi({ example: options.modelName }) }) },
    responses: {
      200: json(Model, 'The model.'),
      ...errors(OpenAiError, { 401: openAiErrors[401], 404: openAiErrors[404] }),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/chat/completions',
    tags: ['OpenAI-compatible'],
    summary: 'Answer the last user message, with citations (OpenAI-compatible)',
    description:
      'The last message is the question and the earlier user and assistant turns the conversation. System and ' +
      "developer messages are ignored: the product's prompt keeps every answer to the passages with checked " +
      'citations. Sampling and length parameters are accepted and ignored. Citations come as ' +
      '`message.annotations` (`url_citation`, one per marker), `message.sources` (the full citations) and ' +
      '`citations` (their links); `cited_answers` says whether the documents answered. With `stream`, the reply ' +
      'is a stream of `ChatCompletionChunk` lines; errors midway come as an `OpenAiError` line.',
    security: secured,
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: ChatCompletionRequest,
            example: { model: options.modelName, messages: [{ role: 'user', content: 'What does the guide say?' }] },
          },
        },
      },
    },
    responses: {
      200: {
        description: 'The completion, or with `stream` its chunks as Server-Sent Events.',
        content: {
          'application/json': { schema: ChatCompletion },
          'text/event-stream': { schema: z.string().describe('`data:` lines of ChatCompletionChunk, then [DONE].') },
        },
      },
      ...errors(OpenAiError, openAiErrors),
    },
  });
  const embedErrors = {
    400: 'The body is not a valid question.',
    403: 'The page is not on one of the origins listed for the embed (`origin_not_allowed`), or the embed is off.',
    404: 'No embed has this id.',
    429: 'Too many questions from this address, or to this embed; `Retry-After` says when to try again.',
    503: 'No index is loaded yet, its database does not answer, or the answer took too long.',
  };
  const embedId = z.object({ id: z.string().openapi({ example: 'docs' }) });
  registry.registerPath({
    method: 'get',
    path: '/api/embeds/{id}',
    tags: ['Widget'],
    summary: 'Whether the calling page may use an embed',
    description:
      'For the widget: 200 when the `Origin` of the request is listed for the embed, with CORS headers for it. ' +
      'The embed id is public; it is not an API key.',
    request: { params: embedId },
    responses: {
      200: json(z.object({ id: z.string() }).strict(), 'The page may ask questions through this embed.'),
      ...errors(ErrorBody, { 403: embedErrors[403], 404: embedErrors[404] }),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/embeds/{id}/chat',
    tags: ['Widget'],
    summary: "Answer a widget's question as a stream of events",
    description:
      'The events of `/api/chat`, for pages on the origins listed for the embed; no API key. A widget sends the ' +
      'question and the conversation only: passages, prompt, model and index are the server’s.',
    request: {
      params: embedId,
      body: { required: true, content: { 'application/json': { schema: embedChatRequestSchema } } },
    },
    responses: {
      200: { description: answerEventStreamDescription, content: { 'text/event-stream': { schema: z.string() } } },
      ...errors(ErrorBody, embedErrors),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/embeds/{id}/sources/{source}',
    tags: ['Widget'],
    summary: "A cited source's text, for the widget",
    description: 'What `/api/sources/{source}` serves, for pages on the origins listed for the embed; no API key.',
    request: { params: embedId.merge(sourceName) },
    responses: {
      200: json(SourceText, 'The source.'),
      ...errors(ErrorBody, {
        403: embedErrors[403],
        404: 'No embed has this id, or no indexed source this name.',
        429: embedErrors[429],
        503: 'No index is loaded yet.',
      }),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    tags: ['Server'],
    summary: 'This document',
    responses: {
      200: {
        description: 'The OpenAPI 3.1 document.',
        content: { 'application/json': { schema: z.object({}).passthrough() } },
      },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs',
    tags: ['Server'],
    summary: 'The API reference page',
    responses: {
      200: { description: 'A page rendering this document.', content: { 'text/html': { schema: z.string() } } },
    },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'cited-answers',
      version: '0.1.0',
      description:
        'Answers questions about a folder of documents and cites the exact passages. `/api` is the native API; ' +
        '`/v1` speaks OpenAI’s chat completions, with the citations in fields its clients read.',
    },
    servers: [{ url: options.publicUrl ?? '/' }],
  });
}
