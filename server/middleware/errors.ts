import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DEFAULTS } from '../../core/defaults.js';
import { AppError, InvalidRequestError } from '../../core/errors.js';

export const GENERIC_MESSAGE = 'Something went wrong on our side.';

/** The body parser's errors, by their `type`, as the error the client should see. */
const BODY_ERRORS: Record<string, (message: string) => AppError> = {
  'entity.parse.failed': () => new InvalidRequestError('The request body is not valid JSON.', 'invalid_json'),
  'entity.too.large': () =>
    new AppError(413, 'payload_too_large', `The request body exceeds ${DEFAULTS.http.maxBodyBytes} bytes.`),
  'entity.verify.failed': () => new InvalidRequestError('The request body could not be read.'),
  'encoding.unsupported': (message) => new AppError(415, 'unsupported_media_type', message),
  'charset.unsupported': (message) => new AppError(415, 'unsupported_media_type', message),
  'request.aborted': () => new InvalidRequestError('The request was aborted.', 'request_aborted'),
  'request.size.invalid': () => new InvalidRequestError('The request body size does not match its length.'),
};

/** The client-facing form of an error, or undefined for an error that is not the client's doing. */
export function toAppError(error: unknown): AppError | undefined {
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

/** The body of an error response: `{ "error": { "code", "message" } }`, never a stack. */
export function errorBody(error: unknown): { status: number; body: { error: { code: string; message: string } } } {
  const known = toAppError(error);
  return {
    status: known?.status ?? 500,
    body: { error: { code: known?.code ?? 'internal_error', message: known?.message ?? GENERIC_MESSAGE } },
  };
}

/** Answers the routes nothing else answered. */
export const notFound: RequestHandler = (request, _response, next) => {
  next(new AppError(404, 'not_found', `No route for ${request.method} ${request.path}.`));
};

/** Rejects the other methods of a route, naming the allowed one. */
export function methodNotAllowed(allowed: string): RequestHandler {
  return (request, response, next) => {
    response.setHeader('Allow', allowed);
    next(new AppError(405, 'method_not_allowed', `${request.method} is not allowed here; use ${allowed}.`));
  };
}

/**
 * The one error handler, registered last: known errors become their status and code; anything else is logged with
 * the request's id and answered with a generic 500.
 */
export const errorHandler: ErrorRequestHandler = (error: unknown, request, response, next) => {
  if (response.headersSent) {
    next(error);
    return;
  }
  const { status, body } = errorBody(error);
  if (status >= 500 && toAppError(error) === undefined) request.log.error({ err: error }, 'request failed');
  response.status(status).json(body);
};
