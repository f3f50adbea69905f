import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError } from '../../core/errors.js';
import { GENERIC_MESSAGE, toAppError } from '../middleware/errors.js';

/** A request the OpenAI-compatible API refuses, naming the parameter at fault as OpenAI's errors do. */
export class OpenAiRequestError extends AppError {
  constructor(
    message: string,
    readonly param: string | null,
    code = 'invalid_value',
    status = 400,
  ) {
    super(status, code, message);
  }
}

/** The body of an error on `/v1`: `{ error: { message, type, code, param } }`, as OpenAI's API and clients have it. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

/** OpenAI's error `type` for a status: what its clients and front ends switch on, beside the status itself. */
function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/** Any error as the status and OpenAI-shaped body the client should see; unknown errors stay generic. */
export function openAiErrorBody(error: unknown): { status: number; body: OpenAiErrorBody } {
  const known = toAppError(error);
  const status = known?.status ?? 500;
  const code = known === undefined ? 'internal_error' : status === 429 ? 'rate_limit_exceeded' : known.code;
  return {
    status,
    body: {
      error: {
        message: known?.message ?? GENERIC_MESSAGE,
        type: errorType(status),
        code,
        param: known instanceof OpenAiRequestError ? known.param : null,
      },
    },
  };
}

/** Answers the `/v1` paths nothing else answered. */
export const openAiNotFound: RequestHandler = (request, _response, next) => {
  next(new OpenAiRequestError(`No route for ${request.method} /v1${request.path}.`, null, 'unknown_url', 404));
};

/** The error handler of `/v1`, registered last on it: OpenAI-shaped bodies; unknown errors are logged. */
export const openAiErrorHandler: ErrorRequestHandler = (error: unknown, request, response, next) => {
  if (response.headersSent) {
    next(error);
    return;
  }
  const { status, body } = openAiErrorBody(error);
  if (status >= 500 && toAppError(error) === undefined) request.log.error({ err: error }, 'request failed');
  response.status(status).json(body);
};
