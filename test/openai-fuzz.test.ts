import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../server/app.js';
import { listen } from '../server/http-server.js';
import { malformedRequest, seededRandom } from './helpers/malformed-requests.js';
import { useCorpusEngine } from './helpers/test-index.js';

const MODEL = 'cited-answers-test';
const REQUESTS = 3_000;
const CONCURRENCY = 16;
const PATHS = ['/v1/chat/completions', '/v1/chat/completions', '/v1/models', `/v1/models/${MODEL}`, '/v1/x', '/v1/'];

const corpus = useCorpusEngine();
let server: Server;
let port: number;
beforeAll(async () => {
  const app = createApp({ engine: () => corpus.engine, http: { modelName: MODEL } });
  server = await new Promise<Server>((resolve) => {
    const listening = listen(app, 0, '127.0.0.1', () => resolve(listening));
  });
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** A chat completion body broken in one of the ways clients and attackers break them. */
function completionBody(random: () => number): string {
  const content = pick(random, ['', 'Où est le commandement ?', '\ud800', 'x'.repeat(2001), 42, null, [], {}]);
  const message = pick(random, [
    { role: 'user', content },
    { role: 'user', content: [{ type: 'text', text: content }] },
    { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] },
    { role: 'user' },
    { role: 'wizard', content: 'x' },
    { role: 'tool', content: 'x', tool_call_id: '1' },
    { role: 'assistant', content: 'x [1]' },
    'hello',
    null,
  ]);
  const extra = pick(random, [
    {},
    { stream: true },
    { stream: 'yes' },
    { stream: true, stream_options: { include_usage: true } },
    { n: pick(random, [0, 2, 1.5, '1', -1]) },
    { temperature: pick(random, [-1, 3, '0', null]) },
    { tools: [{}] },
    { tool_choice: 'required' },
    { response_format: { type: 'json_schema' } },
    { messages: Array(500).fill({ role: 'user', content: 'x' }) },
    { __proto__: { polluted: true } },
  ]);
  return JSON.stringify({
    model: pick(random, [MODEL, MODEL, 'gpt-4o', '', 42, undefined]),
    messages: pick(random, [[message], [{ role: 'system', content: 'x' }, message], [], 'x', undefined]),
    ...extra,
  });
}

function send(method: string, path: string, headers: Record<string, string>, body: string | Buffer | undefined) {
  return new Promise<{ status: number; contentType: string; body: string }>((resolve) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (text.length < 2000) text += chunk;
      });
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          contentType: String(response.headers['content-type']),
          body: text,
        }),
      );
    });
    outgoing.on('error', (error) => resolve({ status: 0, contentType: '', body: String(error) }));
    outgoing.setTimeout(10_000, () => outgoing.destroy());
    outgoing.end(body);
  });
}

describe('fuzzing /v1', () => {
  it(`answers ${REQUESTS} malformed requests with OpenAI-shaped errors, never a 5xx or a stack`, async () => {
    const random = seededRandom(Number(process.env['FUZZ_SEED'] ?? 20261128));
    const failures: string[] = [];
    const byStatus = new Map<number, number>();
    let sent = 0;
    const worker = async () => {
      while (sent < REQUESTS) {
        sent += 1;
        const fuzz = malformedRequest(random);
        const path = pick(random, PATHS);
        const body = fuzz.body === undefined || random() < 0.4 ? fuzz.body : completionBody(random);
        const result = await send(fuzz.method, path, fuzz.headers, body);
        byStatus.set(result.status, (byStatus.get(result.status) ?? 0) + 1);
        const jsonError = result.status >= 400 && fuzz.method !== 'HEAD';
        if (result.status === 0 || result.status >= 500) {
          failures.push(`${fuzz.method} ${path} → ${result.status} ${result.body.slice(0, 200)}`);
        } else if (jsonError && !/^application\/json/.test(result.contentType)) {
          failures.push(`${fuzz.method} ${path} → ${result.status} ${result.contentType}`);
        } else if (
          jsonError &&
          !/^\{"error":\{"message":".*","type":"[a-z_]+","code":"[a-z_]+","param":/.test(result.body)
        ) {
          failures.push(`${fuzz.method} ${path} → ${result.body.slice(0, 200)}`);
        } else if (/\bat .+\.(?:ts|js):\d+/.test(result.body)) {
          failures.push(`stack trace in ${fuzz.method} ${path}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures.slice(0, 10)).toEqual([]);
    // Some requests were valid and answered, most were refused: both paths were taken.
    expect(byStatus.get(200) ?? 0).toBeGreaterThan(20);
    expect(byStatus.get(400) ?? 0).toBeGreaterThan(REQUESTS / 10);
    expect({} as Record<string, unknown>).not.toHaveProperty('polluted');
    expect((await fetch(`http://127.0.0.1:${port}/v1/models`)).status).toBe(200);
  }, 180_000);
});
