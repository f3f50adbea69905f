import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../core/engine.js';
import { createApp } from '../server/app.js';
import { captureLogger } from './helpers/capture-logger.js';
import { COMMUNIQUE, useCorpusEngine } from './helpers/test-index.js';

const corpus = useCorpusEngine();
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

/** Starts an app on a free port and returns its base URL. */
async function serve(app: ReturnType<typeof createApp>): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let base: string;
let unloaded: string;
const log = captureLogger();
beforeAll(async () => {
  base = await serve(createApp({ engine: () => corpus.engine, logger: log.logger }));
  unloaded = await serve(createApp({ engine: () => undefined }));
});

function post(body: string, contentType = 'application/json', url = `${base}/api/answer`): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
}

async function expectError(response: Response, status: number, code: string): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(?:ts|js):\d+/);
}

describe('POST /api/answer', () => {
  it('answers with numbered citations whose quotes sit at their offsets', async () => {
    const response = await post(JSON.stringify({ question: 'Où se trouve le nouveau commandement ?', k: 3 }));
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ found: true, language: 'fr', mode: 'extractive' });
    expect(body.answer).toMatch(/Wiesbaden.* \[1\]/);
    expect(body.citations[0]).toMatchObject({ n: 1, source: COMMUNIQUE });
    expect(Object.keys(body.citations[0]).sort()).toEqual(
      ['chunkId', 'end', 'n', 'passage', 'quote', 'score', 'section', 'source', 'start', 'title'].sort(),
    );
    expect(body.timings.totalMs).toBeGreaterThanOrEqual(body.timings.retrieveMs);
    const [chunk] = await corpus.engine.index.chunks([body.citations[0].chunkId]);
    const text = chunk?.text ?? '';
    expect(text).toBe(body.citations[0].passage);
  });

  it('returns the retrieved passages in rank order only when asked', async () => {
    const question = 'Qui est Kaja Kallas ?';
    const plain = await (await post(JSON.stringify({ question }))).json();
    expect(plain).not.toHaveProperty('passages');
    const body = await (await post(JSON.stringify({ question, k: 5, includePassages: true }))).json();
    expect(body.passages).toHaveLength(5);
    expect(body.passages.map((passage: { rank: number }) => passage.rank)).toEqual([1, 2, 3, 4, 5]);
    const text = await readFile(path.join(corpus.workspace.root, COMMUNIQUE), 'utf8');
    for (const passage of body.passages) expect(text.slice(passage.start, passage.end)).toBe(passage.text);
    expect(body.passages[0].text).toContain('Kaja Kallas');
    await expectError(await post(JSON.stringify({ question, includePassages: 'yes' })), 400, 'invalid_request');
  });

  it('refuses in English when the documents do not answer', async () => {
    const body = await (await post(JSON.stringify({ question: 'Who won the 2018 football World Cup?' }))).json();
    expect(body).toMatchObject({ found: false, language: 'en', citations: [] });
    expect(body.answer).toMatch(/do not contain/);
  });

  it.each([
    ['a missing question', '{}'],
    ['an empty question', '{"question":"   "}'],
    ['a non-string question', '{"question":42}'],
    ['an over-long question', JSON.stringify({ question: 'a'.repeat(2001) })],
    ['a zero k', '{"question":"OTAN","k":0}'],
    ['a fractional k', '{"question":"OTAN","k":2.5}'],
    ['a string k', '{"question":"OTAN","k":"3"}'],
    ['a k above the maximum', '{"question":"OTAN","k":1000}'],
    ['an array body', '["question"]'],
  ])('rejects %s with 400', async (_case, body) => {
    await expectError(await post(body), 400, 'invalid_request');
  });

  it('rejects malformed JSON with 400', async () => {
    await expectError(await post('{"question": "unterminated'), 400, 'invalid_json');
    await expectError(await post('"just a string"'), 400, 'invalid_json');
  });

  it('rejects a body over the limit with 413', async () => {
    await expectError(await post(JSON.stringify({ question: 'x'.repeat(200_000) })), 413, 'payload_too_large');
  });

  it('rejects other content types with 415', async () => {
    await expectError(await post('question=OTAN', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
    await expectError(await post('{"question":"OTAN"}', 'text/plain'), 415, 'unsupported_media_type');
  });

  it('rejects other methods with 405 and names the allowed one', async () => {
    const response = await fetch(`${base}/api/answer`);
    expect(response.headers.get('allow')).toBe('POST');
    await expectError(response, 405, 'method_not_allowed');
  });

  it('answers 503 while no index is loaded', async () => {
    await expectError(
      await post('{"question":"OTAN"}', 'application/json', `${unloaded}/api/answer`),
      503,
      'index_unavailable',
    );
  });

  it('hides an unexpected failure behind a generic 500 and logs it', async () => {
    const broken: Engine = {
      index: corpus.engine.index,
      answerer: { answer: () => Promise.reject(new Error('secret detail at /srv/app.ts:12')) },
    };
    const brokenLog = captureLogger();
    const url = await serve(createApp({ engine: () => broken, logger: brokenLog.logger }));
    const response = await post('{"question":"OTAN"}', 'application/json', `${url}/api/answer`);
    await expectError(response, 500, 'internal_error');
    expect(JSON.stringify(await fetch(`${url}/nowhere`).then((r) => r.json()))).not.toMatch(/secret/);
    const failures = brokenLog.lines().filter((line) => line['msg'] === 'request failed');
    expect(failures).toHaveLength(1);
    expect(JSON.stringify(failures[0])).toContain('secret detail');
    expect(failures[0]?.['req']).toMatchObject({ id: response.headers.get('x-request-id') });
  });
});

describe('GET /api/sources', () => {
  it('lists the indexed sources and serves each one’s citable text, where every citation can be checked', async () => {
    const list = (await (await fetch(`${base}/api/sources`)).json()) as { sources: Array<{ source: string }> };
    expect(list.sources.map((entry) => entry.source)).toEqual([COMMUNIQUE]);

    const answer = (await (await post(JSON.stringify({ question: 'Où est le nouveau commandement ?' }))).json()) as {
      citations: Array<{ source: string; quote: string; start: number; end: number }>;
    };
    const [citation] = answer.citations;
    expect(citation).toBeDefined();
    const response = await fetch(`${base}/api/sources/${citation?.source ?? ''}`);
    expect(response.status).toBe(200);
    const served = (await response.json()) as {
      source: string;
      title: string;
      text: string;
      sections: Array<{ start: number; end: number; section: string[] }>;
    };
    expect(served.source).toBe(COMMUNIQUE);
    expect(served.text).toBe(await readFile(path.join(corpus.workspace.root, COMMUNIQUE), 'utf8'));
    expect(served.text.slice(citation?.start, citation?.end)).toBe(citation?.quote);
    expect(served.sections[0]).toMatchObject({ start: 0, section: [] });
    // A client may encode the whole name, slashes included: it names the same source.
    const encoded = await fetch(`${base}/api/sources/${encodeURIComponent(COMMUNIQUE)}`);
    expect(((await encoded.json()) as { source: string }).source).toBe(COMMUNIQUE);
  });

  it('answers a name that is not an indexed source with a JSON 404, whatever it points at on disk', async () => {
    for (const name of ['corpus/absent.txt', '../package.json', 'corpus/../package.json', '%2e%2e/package.json']) {
      const response = await fetch(`${base}/api/sources/${name}`);
      expect([400, 404], name).toContain(response.status);
      const body = (await response.json()) as { error: { code: string } };
      expect(body.error.code, name).toMatch(/not_found|bad_request|invalid_request/);
    }
    await expectError(await fetch(`${base}/api/sources/corpus/absent.txt`), 404, 'source_not_found');
    await expectError(await fetch(`${base}/api/sources/x`, { method: 'POST' }), 405, 'method_not_allowed');
    await expectError(await fetch(`${unloaded}/api/sources/${COMMUNIQUE}`), 503, 'index_unavailable');
  });
});

describe('other routes', () => {
  it('reports health once the index is loaded, 503 before', async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      chunks: corpus.engine.index.chunkCount,
      generation: corpus.engine.index.generation,
    });
    await expectError(await fetch(`${unloaded}/healthz`), 503, 'index_unavailable');
  });

  it('answers unknown routes with a JSON 404', async () => {
    await expectError(await fetch(`${base}/api/nothing`), 404, 'not_found');
  });

  it('serves the chat page and its assets, and nothing outside its folder', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/chat\.js/);
    expect((await fetch(`${base}/chat.js`)).status).toBe(200);
    for (const attempt of ['/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/package.json', '/../core/config.ts']) {
      expect((await fetch(`${base}${attempt}`)).status).toBe(404);
    }
  });

  it('never logged a client error as a server fault', () => {
    expect(log.lines().filter((line) => line['level'] === 50)).toEqual([]);
  });
});
