import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { z } from 'zod';
import { DEFAULTS } from '../core/defaults.js';
import type { Engine } from '../core/engine.js';
import { AppError, IndexUnavailableError, InvalidRequestError } from '../core/errors.js';

export interface AppDependencies {
  /** The engine serving now, or undefined while no index is loaded. */
  engine: () => Engine | undefined;
  /** Folder of the chat page; defaults to `server/public`. */
  publicDir?: string;
  /** Receives errors that are not the client's fault. */
  logError?: (error: unknown) => void;
}

const DEFAULT_PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

const answerRequestSchema = z.object({
  question: z
    .string({ required_error: 'question is required', invalid_type_error: 'question must be a string' })
    .trim()
    .min(1, 'question must not be empty')
    .max(DEFAULTS.http.maxQuestionChars, `question must be at most ${DEFAULTS.http.maxQuestionChars} characters`),
  k: z
    .number({ invalid_type_error: 'k must be a number' })
    .int('k must be an integer')
    .min(1, 'k must be at least 1')
    .max(DEFAULTS.retrieval.maxK, `k must be at most ${DEFAULTS.retrieval.maxK}`)
    .optional(),
  includePassages: z.boolean({ invalid_type_error: 'includePassages must be a boolean' }).optional(),
  history: z
    .array(
      z.object({
        role: z.enum(['user', 'assistant'], { message: 'history roles must be "user" or "assistant"' }),
        content: z
          .string({ invalid_type_error: 'history contents must be strings' })
          .max(
            DEFAULTS.conversation.maxTurnChars,
            `history contents must be at most ${DEFAULTS.conversation.maxTurnChars} characters`,
          ),
      }),
      { invalid_type_error: 'history must be an array of turns' },
    )
    .max(DEFAULTS.conversation.maxTurns, `history must hold at most ${DEFAULTS.conversation.maxTurns} turns`)
    .optional(),
});

type ParsedRequest = z.infer<typeof answerRequestSchema>;

/** Builds the HTTP app: the answer API, the health check and the chat page. Nothing here opens a socket. */
export function createApp(dependencies: AppDependencies): express.Express {
  const app = express();
  const logError = dependencies.logError ?? ((error: unknown) => console.error(error));
  app.disable('x-powered-by');
  app.set('json spaces', 0);

  const currentEngine = (): Engine => {
    const engine = dependencies.engine();
    if (engine === undefined) throw new IndexUnavailableError();
    return engine;
  };

  app.get('/healthz', (_request, response) => {
    const engine = currentEngine();
    response.json({ status: 'ok', chunks: engine.index.chunks.length });
  });

  const jsonBody = [requireJson, express.json({ limit: DEFAULTS.http.maxBodyBytes })];

  app
    .route('/api/answer')
    .post(...jsonBody, async (request, response) => {
      const body = parseRequest(request.body);
      const engine = currentEngine();
      const answer = await engine.answerer.answer(body, { signal: abortOnClose(response) });
      response.json(answer);
    })
    .all(methodNotAllowed('POST'));

  // The same answer as Server-Sent Events: `citations`, then `token`s as the answer is written, then `done`
  // (or `error`). Errors found before the stream starts are ordinary JSON errors.
  app
    .route('/api/chat')
    .post(...jsonBody, async (request, response) => {
      const body = parseRequest(request.body);
      const engine = currentEngine();
      const signal = abortOnClose(response);
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      response.flushHeaders();
      // A comment line now and then keeps proxies from closing a stream while the model thinks.
      const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), DEFAULTS.http.heartbeatMs);
      const send = (event: string, data: unknown) => {
        if (!response.writableEnded) response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      try {
        await engine.answerer.answer(body, {
          signal,
          onEvent: (event) => {
            if (event.type === 'citations') {
              send('citations', { rewrittenQuestion: event.rewrittenQuestion, passages: event.passages });
            } else if (event.type === 'token') send('token', { text: event.text });
            else send('done', event.answer);
          },
        });
      } catch (error) {
        if (!signal.aborted) {
          const known = toAppError(error);
          if (known === undefined) logError(error);
          send('error', {
            error: { code: known?.code ?? 'internal_error', message: known?.message ?? GENERIC_MESSAGE },
          });
        }
      }
      clearInterval(heartbeat);
      response.end();
    })
    .all(methodNotAllowed('POST'));

  app.use(express.static(dependencies.publicDir ?? DEFAULT_PUBLIC_DIR, { index: 'index.html', fallthrough: true }));

  app.use((request, _response, next) => {
    next(new AppError(404, 'not_found', `No route for ${request.method} ${request.path}.`));
  });
  app.use(errorHandler(logError));
  return app;
}

function parseRequest(body: unknown): ParsedRequest {
  const parsed = answerRequestSchema.safeParse(body);
  if (!parsed.success) throw new InvalidRequestError(parsed.error.issues.map(describeIssue).join('; '));
  return parsed.data;
}

/** A signal that aborts when the client goes away before the response is complete. */
function abortOnClose(response: express.Response): AbortSignal {
  const controller = new AbortController();
  response.on('close', () => {
    if (!response.writableFinished) controller.abort(new Error('The client closed the connection.'));
  });
  return controller.signal;
}

function describeIssue(issue: z.ZodIssue): string {
  return issue.path.length === 0 ? 'The request body must be a JSON object such as {"question": "…"}.' : issue.message;
}

const requireJson: RequestHandler = (request, _response, next) => {
  if (!request.is('application/json')) {
    next(new AppError(415, 'unsupported_media_type', 'Send the request body as application/json.'));
    return;
  }
  next();
};

function methodNotAllowed(allowed: string): RequestHandler {
  return (request, response, next) => {
    response.setHeader('Allow', allowed);
    next(new AppError(405, 'method_not_allowed', `${request.method} is not allowed here; use ${allowed}.`));
  };
}

const GENERIC_MESSAGE = 'Something went wrong on our side.';

/** The body parser's errors, by their `type`, as the error the client should see. */
const BODY_ERRORS: Record<string, (message: string) => AppError> = {
  'entity.parse.failed': () => new InvalidRequestError('The request body is not valid JSON.', 'invalid_json'),
  'entity.too.large': () =>
    new AppError(413, 'payload_too_large', `The request body exceeds ${DEFAULTS.http.maxBodyBytes} bytes.`),
  'encoding.unsupported': (message) => new AppError(415, 'unsupported_media_type', message),
  'charset.unsupported': (message) => new AppError(415, 'unsupported_media_type', message),
  'request.aborted': () => new InvalidRequestError('The request was aborted.', 'request_aborted'),
  'request.size.invalid': () => new InvalidRequestError('The request body size does not match its length.'),
};

/**
 * The one error handler: known errors become their status and code; body-parser errors are translated;
 * anything else is logged and answered with a generic 500, never with its message or stack.
 */
function errorHandler(logError: (error: unknown) => void): ErrorRequestHandler {
  return (error: unknown, _request, response, next) => {
    if (response.headersSent) {
      next(error);
      return;
    }
    const known = toAppError(error);
    if (known === undefined) logError(error);
    const status = known?.status ?? 500;
    const code = known?.code ?? 'internal_error';
    const message = known?.message ?? GENERIC_MESSAGE;
    response.status(status).json({ error: { code, message } });
  };
}

function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, message, status } = error as { type?: unknown; message?: unknown; status?: unknown };
  const translate = typeof type === 'string' ? BODY_ERRORS[type] : undefined;
  if (translate !== undefined) return translate(String(message));
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError(status, 'invalid_request', 'The request could not be read.');
  }
  return undefined;
}
