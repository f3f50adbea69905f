import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../server/app.js';
import { listen } from '../server/http-server.js';
import { type FuzzRequest, malformedRequest, seededRandom } from './helpers/malformed-requests.js';
import { useCorpusEngine } from './helpers/test-index.js';

const corpus = useCorpusEngine();
const REQUESTS = 10_000;
const CONCURRENCY = 16;
let server: Server;
let port: number;
beforeAll(async () => {
  const app = createApp({ engine: () => corpus.engine, http: { apiKeys: [], rateLimitPerMinute: 0 } });
  server = await new Promise<Server>((resolve) => {
    const listening = listen(app, 0, '127.0.0.1', () => resolve(listening));
  });
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

/** Sends one raw request (no client-side normalisation) and resolves with its status, or 0 if the socket failed. */
function send(fuzz: FuzzRequest): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve) => {
    const outgoing = httpRequest(
      // A fresh connection each time: the server closes a connection after some errors, and a reused one would
      // fail on the client's side for reasons that are not the request's.
      { host: '127.0.0.1', port, method: fuzz.method, path: fuzz.path, headers: fuzz.headers, agent: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (body.length < 2000) body += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type']), body }),
        );
      },
    );
    outgoing.on('error', (error) => resolve({ status: 0, contentType: '', body: String(error) }));
    outgoing.setTimeout(10_000, () => outgoing.destroy());
    outgoing.end(fuzz.body);
  });
}

describe('fuzzing the API', () => {
  it(`answers ${REQUESTS} malformed requests without a 5xx, a crash or unbounded memory`, async () => {
    const seed = Number(process.env['FUZZ_SEED'] ?? 20261127);
    const random = seededRandom(seed);
    const byStatus = new Map<number, number>();
    const failures: string[] = [];
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let sent = 0;
    const worker = async () => {
      while (sent < REQUESTS) {
        sent += 1;
        // Made one at a time, so that the test's own bodies do not count against the server's memory.
        const fuzz = malformedRequest(random);
        const result = await send(fuzz);
        byStatus.set(result.status, (byStatus.get(result.status) ?? 0) + 1);
        const jsonError = result.status >= 400 && fuzz.method !== 'HEAD';
        if (result.status === 0 || result.status >= 500)
          failures.push(`${fuzz.method} ${fuzz.path} → ${result.status} ${result.body.slice(0, 200)}`);
        else if (jsonError && !/^application\/json/.test(result.contentType))
          failures.push(`${fuzz.method} ${fuzz.path} → ${result.status} ${result.contentType}`);
        else if (jsonError && !/^\{"error":\{"code":"[a-z_]+","message":/.test(result.body))
          failures.push(`${fuzz.method} ${fuzz.path} → ${result.body.slice(0, 200)}`);
        else if (/\bat .+\.(?:ts|js):\d+/.test(result.body))
          failures.push(`stack trace in ${fuzz.method} ${fuzz.path}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const rssAfter = process.memoryUsage().rss;
    const counts = [...byStatus].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count}`);
    console.log(
      `fuzz seed ${seed}: ${REQUESTS} requests; by status ${counts.join(', ')}; RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MiB`,
    );

    expect(failures.slice(0, 10)).toEqual([]);
    expect({} as Record<string, unknown>).not.toHaveProperty('polluted');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(rssAfter - rssBefore).toBeLessThan(300 * 2 ** 20);
  }, 180_000);
});
