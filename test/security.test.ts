import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../core/engine.js';
import { type AppDependencies, createApp } from '../server/app.js';
import { captureLogger } from './helpers/capture-logger.js';
import { useCorpusEngine } from './helpers/test-index.js';

const corpus = useCorpusEngine();
const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

async function serve(dependencies: Partial<AppDependencies> = {}): Promise<string> {
  const app = createApp({ engine: () => corpus.engine, ...dependencies });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function ask(base: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/api/answer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ question: 'Où se trouve le nouveau commandement ?' }),
  });
}

describe('security headers', () => {
  it('sends a strict Content-Security-Policy and the usual hardening headers', async () => {
    const response = await fetch(`${await serve()}/`);
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain('unsafe-inline');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-powered-by')).toBeNull();
  });
});

describe('CORS', () => {
  it('is off by default: no allow-origin header for another site', async () => {
    const response = await ask(await serve(), { origin: 'https://elsewhere.example' });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows the configured origins only, preflight included', async () => {
    const base = await serve({ http: { corsOrigins: ['https://app.example'] } });
    const preflight = await fetch(`${base}/api/answer`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await ask(base, { origin: 'https://elsewhere.example' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('API keys', () => {
  const key = 'k3y-that-must-never-be-logged';

  it('requires a bearer key on /api/* only, and never logs it', async () => {
    const log = captureLogger('debug');
    const base = await serve({ http: { apiKeys: ['other-key', key] }, logger: log.logger });
    const missing = await ask(base);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toMatchObject({ error: { code: 'missing_api_key' } });
    const wrong = await ask(base, { authorization: 'Bearer not-it' });
    expect(await wrong.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
    expect((await ask(base, { authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect(log.text()).not.toContain(key);
    expect(log.text()).not.toContain('not-it');
    expect(log.lines().length).toBeGreaterThan(3);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After past the limit, per key', async () => {
    const base = await serve({ http: { rateLimitPerMinute: 2, apiKeys: ['a', 'b'] } });
    const asA = { authorization: 'Bearer a' };
    expect((await ask(base, asA)).status).toBe(200);
    expect((await ask(base, asA)).status).toBe(200);
    const limited = await ask(base, asA);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect((await ask(base, { authorization: 'Bearer b' })).status).toBe(200);
  });

  it('limits wrong keys by address, so that guessing keys is limited too', async () => {
    const base = await serve({ http: { rateLimitPerMinute: 2, apiKeys: ['right'] } });
    expect((await ask(base, { authorization: 'Bearer guess-1' })).status).toBe(401);
    expect((await ask(base, { authorization: 'Bearer guess-2' })).status).toBe(401);
    expect((await ask(base, { authorization: 'Bearer guess-3' })).status).toBe(429);
    expect((await ask(base, { authorization: 'Bearer right' })).status).toBe(200);
  });

  it('limits by client address without keys', async () => {
    const base = await serve({ http: { rateLimitPerMinute: 1 } });
    expect((await ask(base)).status).toBe(200);
    expect((await ask(base)).status).toBe(429);
  });
});

describe('request ids and logs', () => {
  it('returns an X-Request-Id, keeps a sane incoming one, and logs it on the request’s lines', async () => {
    const log = captureLogger();
    const base = await serve({ logger: log.logger });
    const fresh = await ask(base);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await ask(base, { 'x-request-id': 'trace-42' });
    expect(kept.headers.get('x-request-id')).toBe('trace-42');
    const replaced = await ask(base, { 'x-request-id': 'bad id with spaces <script>' });
    expect(replaced.headers.get('x-request-id')).not.toContain('script');
    const lines = log.lines().filter((line) => (line['req'] as { id?: string } | undefined)?.id === 'trace-42');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatchObject({ msg: 'request completed', res: { statusCode: 200 } });
  });
});

describe('request timeout', () => {
  it('answers 503 timeout when an answer takes too long, without waiting for it', async () => {
    const stuck: Engine = { index: corpus.engine.index, answerer: { answer: () => new Promise(() => undefined) } };
    const base = await serve({ engine: () => stuck, http: { requestTimeoutMs: 300 } });
    const startedAt = performance.now();
    const response = await ask(base);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'timeout' } });
    // The answer never comes: any bound proves the timeout; this one leaves room for a loaded machine.
    expect(performance.now() - startedAt).toBeLessThan(5000);
    const stream = await fetch(`${base}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question: 'OTAN' }),
    });
    expect(await stream.text()).toMatch(/event: error\ndata: \{"error":\{"code":"timeout"/);
  });
});
