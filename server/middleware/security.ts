import { createHash, timingSafeEqual } from 'node:crypto';
import cors from 'cors';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Store } from 'express-rate-limit';
import helmet from 'helmet';
import type { HttpConfig } from '../../core/config.js';
import { AppError } from '../../core/errors.js';

/**
 * Security headers, with a Content-Security-Policy the chat page satisfies: everything from this origin only, no
 * inline script or style, no framing.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    crossOriginEmbedderPolicy: false,
  });
}

/** CORS for the listed origins only; with none, no CORS header is ever sent and browsers keep other sites out. */
export function crossOrigin(origins: readonly string[]): RequestHandler {
  if (origins.length === 0) return (_request, _response, next) => next();
  return cors({ origin: [...origins], methods: ['GET', 'POST'], allowedHeaders: ['content-type', 'authorization'] });
}

/** The bearer key a request carries, or undefined. */
function bearerKey(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * Requires `Authorization: Bearer <key>` with one of the keys, compared in constant time; with no keys configured,
 * lets everything through. Keys are never logged: the logger redacts the header.
 */
export function requireApiKey(keys: readonly string[]): RequestHandler {
  if (keys.length === 0) return (_request, _response, next) => next();
  const digests = keys.map(digest);
  return (request, response, next) => {
    const key = bearerKey(request.headers.authorization);
    const presented = key === undefined ? undefined : digest(key);
    if (presented !== undefined && digests.some((candidate) => timingSafeEqual(candidate, presented))) {
      next();
      return;
    }
    response.setHeader('WWW-Authenticate', 'Bearer');
    next(
      new AppError(
        401,
        key === undefined ? 'missing_api_key' : 'invalid_api_key',
        key === undefined
          ? 'This server needs an API key: send Authorization: Bearer <key>.'
          : 'The API key is not valid.',
      ),
    );
  };
}

/**
 * Limits requests per minute per valid API key (a digest of it, never the key) or, for everyone else, per client
 * address; it runs before authentication, so that guessing keys is limited too. Beyond it: 429 with `Retry-After`.
 * Counts are kept in this process, or in `store` (a database every server shares, for a limit that is exact across
 * them); a store that fails lets the request through rather than refuse every client.
 */
export function limitRate(config: Pick<HttpConfig, 'rateLimitPerMinute' | 'apiKeys'>, store?: Store): RequestHandler {
  const valid = new Set(config.apiKeys.map((key) => digest(key).toString('hex')));
  return limitRequests({
    perMinute: config.rateLimitPerMinute,
    store,
    key: (request) => {
      const key = bearerKey(request.headers.authorization);
      const hashed = key === undefined ? undefined : digest(key).toString('hex');
      return hashed !== undefined && valid.has(hashed) ? `key:${hashed}` : `ip:${clientAddress(request)}`;
    },
    message: `Too many requests: at most ${config.rateLimitPerMinute} a minute.`,
  });
}

/** The address a client is counted under: IPv6 clients by prefix, as one client usually holds a whole one. */
export function clientAddress(request: Request): string {
  return ipKeyGenerator(request.ip ?? '');
}

/**
 * At most `perMinute` requests a minute for each key `key` gives a request (0: no limit); beyond it, 429 with the
 * real `Retry-After` and `message`.
 */
export function limitRequests(options: {
  perMinute: number;
  key: (request: Request) => string;
  message: string;
  /** Where requests are counted when not in this process. */
  store?: Store | undefined;
}): RequestHandler {
  if (options.perMinute === 0) return (_request, _response, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: options.perMinute,
    // A shared store that fails lets requests through rather than refuse every client.
    ...(options.store === undefined ? {} : { store: options.store, passOnStoreError: true }),
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: options.key,
    handler: (request, response, next) => {
      const resetTime = (request as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = resetTime === undefined ? 60 : Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000));
      response.setHeader('Retry-After', String(seconds));
      next(new AppError(429, 'rate_limited', options.message));
    },
  });
}
