import cors from 'cors';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { Store } from 'express-rate-limit';
import type { EmbedConfig } from '../../core/config.js';
import { DEFAULTS } from '../../core/defaults.js';
import type { Engine } from '../../core/engine.js';
import { AppError, IndexUnavailableError } from '../../core/errors.js';
import { methodNotAllowed, notFound } from '../middleware/errors.js';
import { clientAddress, limitRequests } from '../middleware/security.js';
import { answerRequestSchema, parseRequest, requireJson, streamAnswer } from './answer-routes.js';
import { requestedSource } from './source-routes.js';

export interface EmbedRoutesOptions {
  engine: () => Engine | undefined;
  embeds: readonly EmbedConfig[];
  requestTimeoutMs: number;
  /** Where the embeds' limits are counted when not in this process (`AppDependencies.rateLimitStores`). */
  rateLimitStores?: ((prefix: string) => Store) | undefined;
}

/**
 * What a widget may send: a question and the conversation. The page's `data-*` attributes are cosmetic; nothing a
 * widget sends chooses the number of passages, the prompt, the model or the index.
 */
export const embedChatRequestSchema = answerRequestSchema.pick({ question: true, history: true });

interface Embed {
  config: EmbedConfig;
  limits: RequestHandler[];
}

/**
 * The widget's API, mounted at `/api/embeds`: `GET /{id}` (is this site allowed?), `POST /{id}/chat` (the event
 * stream of `/api/chat`) and `GET /{id}/sources/{source}` (a cited source's text, as `/api/sources` serves it). An embed id is public and is not a key: what it grants is bounded by the origins
 * the server lists for it, which browsers enforce through CORS, and by its rate limits, per embed and per visitor
 * address. Requests from another origin, or with none, are refused with 403; CORS echoes only a listed origin, with
 * `Vary: Origin` and never credentials.
 */
export function embedRoutes(options: EmbedRoutesOptions): Router {
  const embeds = new Map<string, Embed>(
    options.embeds.map((config) => [
      config.id,
      {
        config,
        limits: [
          limitRequests({
            perMinute: config.requestsPerMinute,
            key: () => config.id,
            message: `This site's assistant takes at most ${config.requestsPerMinute} questions a minute.`,
            store: options.rateLimitStores?.('embed:'),
          }),
          limitRequests({
            perMinute: config.requestsPerMinutePerAddress,
            key: (request) => `${config.id}:${clientAddress(request)}`,
            message: `Too many questions: at most ${config.requestsPerMinutePerAddress} a minute.`,
            store: options.rateLimitStores?.('embed-visitor:'),
          }),
        ],
      },
    ]),
  );
  const embedOf = (request: Request): Embed => {
    const embed = embeds.get(String(request.params['id']));
    if (embed === undefined) throw new AppError(404, 'embed_not_found', 'No widget is configured with this embed id.');
    return embed;
  };
  const allowedOrigin = (request: Request): string | undefined => {
    const origin = request.headers.origin;
    return origin !== undefined && embedOf(request).config.origins.includes(origin) ? origin : undefined;
  };

  const crossOrigin = cors((request, callback) => {
    const origin = embeds.has(String((request as Request).params['id']))
      ? allowedOrigin(request as Request)
      : undefined;
    callback(null, {
      origin: origin ?? false,
      methods: ['GET', 'POST'],
      allowedHeaders: ['content-type'],
      exposedHeaders: ['Retry-After'],
      maxAge: 600,
      preflightContinue: true,
    });
  });
  /** Refuses an unknown or disabled embed and an origin not on its list; answers an allowed preflight. */
  const admit: RequestHandler = (request, response, next) => {
    response.vary('Origin');
    const embed = embedOf(request);
    if (allowedOrigin(request) === undefined) {
      const origin = request.headers.origin ?? 'a page without an origin';
      throw new AppError(403, 'origin_not_allowed', `${origin} is not a site this assistant may be used on.`);
    }
    if (request.method === 'OPTIONS') {
      response.status(204).end();
      return;
    }
    if (!embed.config.enabled) throw new AppError(403, 'embed_disabled', "This site's assistant is switched off.");
    next();
  };
  const limit: RequestHandler = (request, response, next) => {
    const [perEmbed, perAddress] = embedOf(request).limits;
    perEmbed?.(request, response, (error?: unknown) => (error ? next(error) : perAddress?.(request, response, next)));
  };

  const router = express.Router();
  router
    .route('/:id')
    .all(crossOrigin, admit)
    .get((request, response) => {
      response.json({ id: embedOf(request).config.id });
    })
    .all(methodNotAllowed('GET'));
  router
    .route('/:id/chat')
    .all(crossOrigin, admit)
    .post(limit, requireJson, express.json({ limit: DEFAULTS.http.maxBodyBytes }), async (request, response) => {
      const body = parseRequest(request.body, embedChatRequestSchema);
      const engine = options.engine();
      if (engine === undefined) throw new IndexUnavailableError();
      await streamAnswer(request, response, engine, body, options.requestTimeoutMs);
    })
    .all(methodNotAllowed('POST'));
  // The whole text of a cited source, for the widget's passage view: what /api/sources serves, for the embed's sites.
  router
    .route('/:id/sources/*source')
    .all(crossOrigin, admit)
    .get(limit, async (request, response) => {
      const engine = options.engine();
      if (engine === undefined) throw new IndexUnavailableError();
      response.json(await requestedSource(engine, request));
    })
    .all(methodNotAllowed('GET'));
  // The rest of /api/embeds is not the keyed API below it: it ends here.
  router.use(notFound);
  return router;
}
