import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { DEFAULTS } from '../../core/defaults.js';
import type { Answerer, Engine } from '../../core/engine.js';
import { AppError, IndexUnavailableError, InvalidRequestError } from '../../core/errors.js';
import type { Answer, AnswerEvent, AnswerOptions, AnswerRequest } from '../../core/types.js';
import { errorBody, methodNotAllowed, toAppError } from '../middleware/errors.js';
import { openEventStream } from './event-stream.js';

/** The body of `POST /api/answer` and `POST /api/chat`. */
export const answerRequestSchema = z.object({
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

export interface AnswerRoutesOptions {
  engine: () => Engine | undefined;
  requestTimeoutMs: number;
}

/** `POST /api/answer` (JSON) and `POST /api/chat` (Server-Sent Events), on the engine serving at the time. */
export function answerRoutes(options: AnswerRoutesOptions): Router {
  const router = express.Router();
  const jsonBody = [requireJson, express.json({ limit: DEFAULTS.http.maxBodyBytes })];
  const currentEngine = (): Engine => {
    const engine = options.engine();
    if (engine === undefined) throw new IndexUnavailableError();
    return engine;
  };

  router
    .route('/answer')
    .post(...jsonBody, async (request, response) => {
      const body = parseRequest(request.body);
      // The engine is taken once: a new index swapped in meanwhile does not change this request's answer.
      const engine = currentEngine();
      const signal = requestSignal(response, options.requestTimeoutMs);
      const answer = await answerInTurn(engine.answerer, body, { signal });
      // Written with the other responses answered in this turn (see `answerInTurn`).
      await endOfTurn();
      response.json(answer);
    })
    .all(methodNotAllowed('POST'));

  // The same answer as Server-Sent Events: `citations`, then `token`s as the answer is written, then `done`
  // (or `error`). Errors found before the stream starts are ordinary JSON errors.
  router
    .route('/chat')
    .post(...jsonBody, async (request, response) => {
      await streamAnswer(request, response, currentEngine(), parseRequest(request.body), options.requestTimeoutMs);
    })
    .all(methodNotAllowed('POST'));

  return router;
}

/**
 * Answers as Server-Sent Events on the response: `citations`, `token`s, then `done` or `error`. Also what the
 * widget's embed route answers with.
 */
export async function streamAnswer(
  request: Request,
  response: Response,
  engine: Engine,
  body: AnswerRequest,
  timeoutMs: number,
): Promise<void> {
  const signal = requestSignal(response, timeoutMs);
  const stream = openAnswerStream(response);
  try {
    await answerInTurn(engine.answerer, body, { signal, onEvent: stream.send });
  } catch (error) {
    if (!response.destroyed) {
      if (toAppError(error) === undefined) request.log.error({ err: error }, 'answer failed');
      stream.fail(errorBody(error).body);
    }
  }
  stream.end();
}

/** A body validated by a schema, or a 400 that says what is wrong with it. */
export function parseRequest<Schema extends z.ZodTypeAny = typeof answerRequestSchema>(
  body: unknown,
  schema: Schema = answerRequestSchema as unknown as Schema,
): z.infer<Schema> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new InvalidRequestError(parsed.error.issues.map(describeIssue).join('; '));
  return parsed.data as z.infer<Schema>;
}

function describeIssue(issue: z.ZodIssue): string {
  return issue.path.length === 0 ? 'The request body must be a JSON object such as {"question": "…"}.' : issue.message;
}

/** Refuses a body that is not JSON with 415. */
export function requireJson(request: Request, _response: Response, next: (error?: unknown) => void): void {
  if (!request.is('application/json')) {
    next(new AppError(415, 'unsupported_media_type', 'Send the request body as application/json.'));
    return;
  }
  next();
}

class RequestTimeout extends AppError {
  constructor(milliseconds: number) {
    super(503, 'timeout', `The answer took longer than ${milliseconds} ms; try again.`);
  }
}

/** Aborts when the client goes away before the response is complete, or when the request has taken too long. */
export function requestSignal(response: Response, timeoutMs: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new RequestTimeout(timeoutMs)), timeoutMs);
  response.on('close', () => {
    clearTimeout(timer);
    if (!response.writableFinished) controller.abort(new Error('The client closed the connection.'));
  });
  return controller.signal;
}

/**
 * The answer to a request, computed once the event loop has read the requests that came with it, and settled as
 * `untilAborted` settles it. Under load the loop reads many requests a turn; answering each as soon as it is read
 * interleaves the answerer with the parsing of the next request, and each evicts the other's code and data from the
 * processor's caches. Deferred to the end of the turn, the answers of a turn are computed one after another, and
 * their responses written one after another at the end of the next (`endOfTurn` before writing): the work is done
 * kind by kind, as in cohort scheduling. A request that comes alone waits for nothing.
 */
export async function answerInTurn(
  answerer: Answerer,
  request: AnswerRequest,
  options: AnswerOptions & { signal: AbortSignal },
): Promise<Answer> {
  await endOfTurn();
  return untilAborted(answerer.answer(request, options), options.signal);
}

/** Resolves once the event loop has handled the input of its current turn (a `setImmediate`). */
export function endOfTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Settles with the work, or rejects with the signal's reason as soon as it aborts, whichever comes first. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The answer's events on an event stream: `citations`, `token`s, then `done` (or `error`). */
function openAnswerStream(response: Response) {
  const stream = openEventStream(response);
  return {
    send: (event: AnswerEvent) => {
      if (event.type === 'citations') {
        stream.send({ rewrittenQuestion: event.rewrittenQuestion, passages: event.passages }, 'citations');
      } else if (event.type === 'token') stream.send({ text: event.text }, 'token');
      else stream.send(event.answer, 'done');
    },
    fail: (body: unknown) => stream.send(body, 'error'),
    end: () => stream.end(),
  };
}
