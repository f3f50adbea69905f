import { randomUUID } from 'node:crypto';
import express, { type Response, type Router } from 'express';
import { DEFAULTS } from '../../core/defaults.js';
import type { Engine } from '../../core/engine.js';
import { IndexUnavailableError } from '../../core/errors.js';
import type { Answer } from '../../core/types.js';
import { methodNotAllowed, toAppError } from '../middleware/errors.js';
import { parseChatCompletionRequest } from '../openai/chat-completion-request.js';
import {
  annotationsOf,
  chatCompletion,
  type CompletionMeta,
  completionChunk,
  detailsOf,
  sourcesOf,
  usageChunk,
} from '../openai/chat-completion-response.js';
import { OpenAiRequestError, openAiErrorBody } from '../openai/openai-errors.js';
import { answerInTurn, endOfTurn, requestSignal, requireJson } from './answer-routes.js';
import { openEventStream } from './event-stream.js';

export interface OpenAiRoutesOptions {
  engine: () => Engine | undefined;
  requestTimeoutMs: number;
  /** The id the index is served under. */
  modelName: string;
  /** Base of the citation links; absent: the origin the request came to. */
  publicUrl: string | undefined;
}

/** When the model list says the model was made, with no index loaded yet. */
const STARTED_AT = Math.floor(Date.now() / 1000);

/**
 * The OpenAI-compatible API, mounted at `/v1`: `GET /models`, `GET /models/{id}` and `POST /chat/completions`,
 * streamed or not. A thin adapter over the answerer that `/api/answer` uses: it translates the request, and the
 * answer with its citations, to the shapes OpenAI's clients read.
 */
export function openAiRoutes(options: OpenAiRoutesOptions): Router {
  const router = express.Router();
  const model = () => {
    const createdAt = options.engine()?.index.description.createdAt;
    const created = createdAt === undefined ? STARTED_AT : Math.floor(Date.parse(createdAt) / 1000);
    return { id: options.modelName, object: 'model' as const, created, owned_by: 'cited-answers' };
  };

  router
    .route('/models')
    .get((_request, response) => {
      response.json({ object: 'list', data: [model()] });
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/models/:id')
    .get((request, response) => {
      requireServedModel(String(request.params['id']), options.modelName, 'id');
      response.json(model());
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/chat/completions')
    .post(requireJson, express.json({ limit: DEFAULTS.openAi.maxBodyBytes }), async (request, response) => {
      const parsed = parseChatCompletionRequest(request.body);
      requireServedModel(parsed.model, options.modelName, 'model');
      // The engine is taken once: a new index swapped in meanwhile does not change this request's answer.
      const engine = options.engine();
      if (engine === undefined) throw new IndexUnavailableError();
      const signal = requestSignal(response, options.requestTimeoutMs);
      const meta: CompletionMeta = {
        id: `chatcmpl-${randomUUID()}`,
        created: Math.floor(Date.now() / 1000),
        model: options.modelName,
      };
      const baseUrl = options.publicUrl ?? `${request.protocol}://${request.get('host') ?? 'localhost'}`;
      if (!parsed.stream) {
        const answer = await answerInTurn(engine.answerer, parsed.answerRequest, { signal });
        // Written with the other responses answered in this turn (see `answerInTurn`).
        await endOfTurn();
        response.json(chatCompletion(answer, meta, baseUrl));
        return;
      }

      const stream = openCompletionStream(response, meta);
      stream.delta({ role: 'assistant', content: '', refusal: null });
      let streamed = '';
      try {
        const answer = await answerInTurn(engine.answerer, parsed.answerRequest, {
          signal,
          verifiedTokens: true,
          onEvent: (event) => {
            if (event.type !== 'token') return;
            streamed += event.text;
            stream.delta({ content: event.text });
          },
        });
        stream.finish(answer, streamed, baseUrl, parsed.includeUsage);
      } catch (error) {
        if (!response.destroyed) {
          if (toAppError(error) === undefined) request.log.error({ err: error }, 'answer failed');
          stream.fail(error);
        }
      }
      stream.end();
    })
    .all(methodNotAllowed('POST'));

  return router;
}

/** A request for another model than the one served is a 404, as OpenAI answers an unknown model. */
function requireServedModel(requested: string, served: string, param: string): void {
  if (requested === served) return;
  throw new OpenAiRequestError(
    `The model "${requested}" does not exist here; this server serves "${served}" (see GET /v1/models).`,
    param,
    'model_not_found',
    404,
  );
}

/**
 * A streamed completion on a response: `data:` chunks as OpenAI sends them, a keep-alive comment now and then, an
 * OpenAI-shaped error chunk if the answer fails midway, and `data: [DONE]` at the end.
 */
function openCompletionStream(response: Response, meta: CompletionMeta) {
  const stream = openEventStream(response);
  const write = (data: unknown) => stream.send(data);
  return {
    delta: (delta: Record<string, unknown>) => write(completionChunk(meta, delta)),
    /**
     * The end of a reply whose content so far is `streamed`: the rest of the answer, then one chunk with the whole
     * `annotations` and `sources` (the official client's stream helper replaces these fields rather than merging
     * them), the finish reason, the usage if asked for, and `[DONE]`.
     */
    finish: (answer: Answer, streamed: string, baseUrl: string, includeUsage: boolean) => {
      // The model failed after some of its answer was sent: what was sent cannot be taken back, so the answer
      // that replaces it follows, and only its markers are annotated.
      const continues = answer.answer.startsWith(streamed);
      const rest = continues ? answer.answer.slice(streamed.length) : `\n\n${answer.answer}`;
      if (rest !== '') write(completionChunk(meta, { content: rest }));
      const offset = continues ? 0 : streamed.length + 2;
      const sources = sourcesOf(answer, baseUrl);
      write(
        completionChunk(meta, { annotations: annotationsOf(answer, baseUrl, offset), sources }, null, {
          citations: sources.map((source) => source.url),
          cited_answers: detailsOf(answer),
        }),
      );
      write(completionChunk(meta, {}, 'stop'));
      if (includeUsage) write(usageChunk(meta, answer));
      stream.writeRaw('data: [DONE]\n\n');
    },
    fail: (error: unknown) => write(openAiErrorBody(error).body),
    end: () => stream.end(),
  };
}
