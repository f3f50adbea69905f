/*
 * Other clients a user would point at /v1: LangChain's ChatOpenAI (this product as the model of a LangChain app)
 * and the AI SDK's OpenAI provider, which turns `url_citation` annotations into sources.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenAI } from '@ai-sdk/openai';
import { AIMessageChunk } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answer } from '../core/types.js';
import { createApp } from '../server/app.js';
import { COMMUNIQUE, useCorpusEngine } from './helpers/test-index.js';

const MODEL = 'cited-answers-test';
const question = 'Où se trouve le nouveau commandement ?';

const corpus = useCorpusEngine();
let server: Server;
let base: string;
/** What the product's own API answers, which every client must show. */
let expected: Answer;

beforeAll(async () => {
  const app = createApp({ engine: () => corpus.engine, http: { modelName: MODEL } });
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const response = await fetch(`${base}/api/answer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ question }),
  });
  expected = (await response.json()) as Answer;
  expect(expected.found).toBe(true);
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

/** The link the server gives a citation. */
function urlOf(citation: Answer['citations'][number]): string {
  return `${base}/api/sources/${encodeURIComponent(citation.source)}#char=${citation.start},${citation.end}`;
}

describe("LangChain's ChatOpenAI pointed at /v1", () => {
  it('answers as a chat model, with the raw reply holding the sources', async () => {
    const model = new ChatOpenAI({
      model: MODEL,
      apiKey: 'unused',
      configuration: { baseURL: `${base}/v1` },
      maxRetries: 0,
      __includeRawResponse: true,
    });
    const message = await model.invoke([
      ['system', 'Answer briefly.'],
      ['human', question],
    ]);
    expect(message.content).toBe(expected.answer);
    const raw = message.additional_kwargs['__raw_response'] as {
      choices: Array<{ message: { sources: Array<{ quote: string; source: string; url: string }> } }>;
    };
    const sources = raw.choices[0]?.message.sources ?? [];
    expect(sources.map((source) => source.quote)).toEqual(expected.citations.map((citation) => citation.quote));
    expect(sources[0]?.source).toBe(COMMUNIQUE);
    expect(sources[0]?.url).toBe(urlOf(expected.citations[0] as Answer['citations'][number]));
  });

  it('streams the same answer', async () => {
    const model = new ChatOpenAI({
      model: MODEL,
      apiKey: 'unused',
      configuration: { baseURL: `${base}/v1` },
      maxRetries: 0,
      streaming: true,
    });
    let text = '';
    let pieces = 0;
    for await (const chunk of await model.stream(question)) {
      expect(chunk).toBeInstanceOf(AIMessageChunk);
      if (typeof chunk.content === 'string' && chunk.content !== '') {
        text += chunk.content;
        pieces += 1;
      }
    }
    expect(text).toBe(expected.answer);
    expect(pieces).toBeGreaterThan(3);
  });
});

describe("the AI SDK's OpenAI provider pointed at /v1", () => {
  const provider = () => createOpenAI({ baseURL: `${base}/v1`, apiKey: 'unused' }).chat(MODEL);

  it('reads the url_citation annotations as sources', async () => {
    const result = await generateText({ model: provider(), prompt: question, maxRetries: 0 });
    expect(result.text).toBe(expected.answer);
    expect(result.sources.map((source) => (source.sourceType === 'url' ? source.url : ''))).toEqual(
      expected.citations.map(urlOf),
    );
    expect(result.sources[0]).toMatchObject({ type: 'source', sourceType: 'url', title: expected.citations[0]?.title });
  });

  it('streams the text, then the sources', async () => {
    const result = streamText({ model: provider(), prompt: question, maxRetries: 0 });
    const parts: string[] = [];
    for await (const part of result.fullStream) parts.push(part.type);
    expect(await result.text).toBe(expected.answer);
    const sources = await result.sources;
    expect(sources.map((source) => (source.sourceType === 'url' ? source.url : ''))).toEqual(
      expected.citations.map(urlOf),
    );
    expect(parts.filter((type) => type === 'text-delta').length).toBeGreaterThan(3);
    expect(parts.lastIndexOf('text-delta')).toBeLessThan(parts.indexOf('source'));
  });
});
