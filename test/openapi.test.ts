/*
 * The OpenAPI document: valid OpenAPI 3.1, complete (every route of the app is in it, and nothing else), and
 * true (real responses of the running app validate against its schemas).
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppDependencies, createApp } from '../server/app.js';
import { type RunningServer, serveTestApp } from './helpers/serve-app.js';
import { annualReport } from './helpers/make-pdf.js';
import { buildEngine, createWorkspace, useCorpusEngine } from './helpers/test-index.js';

const MODEL = 'cited-answers-test';
const corpus = useCorpusEngine();
const servers: RunningServer[] = [];
let document: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
let ajv: Ajv2020;

afterAll(() => Promise.all(servers.map((server) => server.close())));

async function serve(dependencies: Partial<AppDependencies> = {}): Promise<string> {
  const server = await serveTestApp({ corpus, modelName: MODEL, dependencies });
  servers.push(server);
  return server.origin;
}

beforeAll(async () => {
  const base = await serve();
  document = (await (await fetch(`${base}/openapi.json`)).json()) as typeof document;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(document, 'openapi');
});

/** Escapes a JSON pointer segment. */
function pointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The validator of the documented response body of an operation, for a status and media type. */
function responseValidator(method: string, path: string, status: number, type = 'application/json'): ValidateFunction {
  const at = ['paths', path, method, 'responses', String(status), 'content', type, 'schema'].map(pointer).join('/');
  const validate = ajv.getSchema(`openapi#/${at}`);
  if (validate === undefined) throw new Error(`The document has no ${type} response ${status} for ${method} ${path}`);
  return validate;
}

/** Validates a body against a documented response, with the errors in the failure message. */
function expectDocumented(body: unknown, method: string, path: string, status: number): void {
  const validate = responseValidator(method, path, status);
  expect(validate(body), `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
}

/** The validator of a component schema. */
function componentValidator(name: string): ValidateFunction {
  const validate = ajv.getSchema(`openapi#/components/schemas/${name}`);
  if (validate === undefined) throw new Error(`No component ${name}`);
  return validate;
}

interface Layer {
  rawPath?: unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** Every `method path` the app routes, read from Express's router, with `:name` and `*name` written `{name}`. */
function appRoutes(app: express.Express): string[] {
  const routes: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        const path = `${prefix}${layer.route.path}`.replace(/[:*](\w+)/g, '{$1}');
        for (const method of Object.keys(layer.route.methods)) if (method !== '_all') routes.push(`${method} ${path}`);
      } else if (layer.handle.stack !== undefined) {
        walk(
          layer.handle.stack,
          `${prefix}${typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : ''}`,
        );
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes.sort();
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('documents every route of the app, and no other', () => {
    const app = createApp({ engine: () => corpus.engine });
    const documented = Object.entries(document.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .sort();
    const routes = appRoutes(app);
    expect(routes.length).toBeGreaterThan(5);
    expect(documented).toEqual(routes);
  });

  it('describes the real answers of /api and their errors', async () => {
    const base = await serve();
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const health = await fetch(`${base}/healthz`);
    expectDocumented(await health.json(), 'get', '/healthz', 200);
    for (const body of [
      { question: "Qui est le secrétaire général de l'OTAN ?", includePassages: true },
      { question: 'Quelle est la recette de la tarte tatin ?' },
      { question: 'et la Chine ?', history: [{ role: 'user', content: 'Que dit Mark Rutte de la Russie ?' }] },
    ]) {
      const response = await post('/api/answer', body);
      expect(response.status).toBe(200);
      expectDocumented(await response.json(), 'post', '/api/answer', 200);
    }
    const invalid = await post('/api/answer', { question: 42 });
    expect(invalid.status).toBe(400);
    expectDocumented(await invalid.json(), 'post', '/api/answer', 400);
    const stream = await post('/api/chat', { question: "Qui est le secrétaire général de l'OTAN ?" });
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const done = /event: done\ndata: (.*)\n/.exec(await stream.text())?.[1];
    expectDocumented(JSON.parse(done ?? 'null'), 'post', '/api/answer', 200);

    const sources = await fetch(`${base}/api/sources`);
    expectDocumented(await sources.json(), 'get', '/api/sources', 200);
    const source = await fetch(
      `${base}/api/sources/${encodeURIComponent(corpus.engine.index.sources[0]?.source ?? '')}`,
    );
    expectDocumented(await source.json(), 'get', '/api/sources/{source}', 200);
    const noSource = await fetch(`${base}/api/sources/corpus/absent.txt`);
    expectDocumented(await noSource.json(), 'get', '/api/sources/{source}', 404);

    const locked = await serve({ http: { apiKeys: ['k'] } });
    const unauthorized = await fetch(`${locked}/api/answer`, { method: 'POST' });
    expect(unauthorized.status).toBe(401);
    expectDocumented(await unauthorized.json(), 'post', '/api/answer', 401);
    const unloaded = await serve({ engine: () => undefined });
    const unavailable = await fetch(`${unloaded}/healthz`);
    expectDocumented(await unavailable.json(), 'get', '/healthz', 503);
  });

  it('describes a citation of a PDF with its page, and the page spans of its text', async () => {
    const workspace = await createWorkspace({ 'corpus/rapport.pdf': await annualReport() });
    try {
      const engine = await buildEngine(workspace);
      const base = await serve({ engine: () => engine });
      const response = await fetch(`${base}/api/answer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'De combien a progressé le chiffre d’affaires ?', includePassages: true }),
      });
      const answer = await response.json();
      expect(answer.citations[0]?.page).toBe(2);
      expectDocumented(answer, 'post', '/api/answer', 200);
      const source = await (await fetch(`${base}/api/sources/corpus/rapport.pdf`)).json();
      expect(source.pages).toHaveLength(3);
      expectDocumented(source, 'get', '/api/sources/{source}', 200);
    } finally {
      await workspace.cleanup();
    }
  });

  it('describes the real replies of /v1, streamed chunks included', async () => {
    const base = await serve();
    const models = await fetch(`${base}/v1/models`);
    expectDocumented(await models.json(), 'get', '/v1/models', 200);
    expectDocumented(await (await fetch(`${base}/v1/models/${MODEL}`)).json(), 'get', '/v1/models/{id}', 200);
    const missing = await fetch(`${base}/v1/models/gpt-4o`);
    expect(missing.status).toBe(404);
    expectDocumented(await missing.json(), 'get', '/v1/models/{id}', 404);

    const complete = (body: Record<string, unknown>) =>
      fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, ...body }),
      });
    for (const question of ['Où se trouve le nouveau commandement ?', 'Quelle est la recette de la tarte tatin ?']) {
      const response = await complete({ messages: [{ role: 'user', content: question }] });
      expectDocumented(await response.json(), 'post', '/v1/chat/completions', 200);
    }
    const streamed = await complete({
      messages: [{ role: 'user', content: 'Où se trouve le nouveau commandement ?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const lines = (await streamed.text()).split('\n').filter((line) => line.startsWith('data: '));
    expect(lines.at(-1)).toBe('data: [DONE]');
    const validateChunk = componentValidator('ChatCompletionChunk');
    for (const line of lines.slice(0, -1)) {
      expect(validateChunk(JSON.parse(line.slice(6))), `${line}: ${ajv.errorsText(validateChunk.errors)}`).toBe(true);
    }
    const refused = await complete({ messages: [{ role: 'user', content: 'x' }], n: 3 });
    expect(refused.status).toBe(400);
    expectDocumented(await refused.json(), 'post', '/v1/chat/completions', 400);
  });

  it("describes the real replies of the widget's API", async () => {
    const site = 'https://docs.example.org';
    const base = await serve({
      http: {
        embeds: [{ id: 'docs', origins: [site], enabled: true, requestsPerMinute: 9, requestsPerMinutePerAddress: 9 }],
      },
    });
    const allowed = await fetch(`${base}/api/embeds/docs`, { headers: { origin: site } });
    expectDocumented(await allowed.json(), 'get', '/api/embeds/{id}', 200);
    const refused = await fetch(`${base}/api/embeds/docs`, { headers: { origin: 'https://elsewhere.example' } });
    expect(refused.status).toBe(403);
    expectDocumented(await refused.json(), 'get', '/api/embeds/{id}', 403);
    const chat = await fetch(`${base}/api/embeds/docs/chat`, {
      method: 'POST',
      headers: { origin: site, 'content-type': 'application/json' },
      body: JSON.stringify({ question: "Qui est le secrétaire général de l'OTAN ?" }),
    });
    const done = /event: done\ndata: (.*)\n/.exec(await chat.text())?.[1];
    expectDocumented(JSON.parse(done ?? 'null'), 'post', '/api/answer', 200);
    const cited = (JSON.parse(done ?? 'null') as { citations: Array<{ source: string }> }).citations[0];
    const source = await fetch(`${base}/api/embeds/docs/sources/${cited?.source ?? ''}`, { headers: { origin: site } });
    expectDocumented(await source.json(), 'get', '/api/embeds/{id}/sources/{source}', 200);
  });

  it('a schema that the responses do not match fails the check: the check can fail', () => {
    const validate = responseValidator('post', '/api/answer', 200);
    expect(validate({ answer: 'x', found: true, language: 'fr', mode: 'extractive', citations: [] })).toBe(false);
    expect(validate({ answer: 'x', found: true, language: 'de', mode: 'extractive', citations: [], timings: {} })).toBe(
      false,
    );
  });
});

describe('the API reference page', () => {
  it('serves the page, Swagger UI and the document, under the strict CSP', async () => {
    const base = await serve();
    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    for (const asset of [...html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map((match) => match[1])) {
      const response = await fetch(`${base}${asset}`);
      expect(response.status, asset).toBe(200);
    }
    expect(html).not.toMatch(/<script>|<style>|style="/);
  });
});
