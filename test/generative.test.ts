import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REFUSALS } from '../core/answer/answer-parts.js';
import { citationProblems } from '../core/answer/citation-contract.js';
import { createEngine, type Engine } from '../core/engine.js';
import { createChatModel } from '../core/llm/create-chat-model.js';
import { loadPrompts } from '../core/llm/prompts.js';
import type { Answer, AnswerEvent } from '../core/types.js';
import { createApp } from '../server/app.js';
import { type ChatReply, type OpenAiWireServer, startOpenAiWireServer } from './helpers/openai-wire-server.js';
import { COMMUNIQUE, PROJECT_ROOT, useCorpusEngine } from './helpers/test-index.js';

const corpus = useCorpusEngine();
/** Time for a whole generated answer: room for a loaded machine. */
const TIMEOUT_MS = 10_000;
/** The time limit of the engine that proves the timeout, which its model never meets. */
const SHORT_TIMEOUT_MS = 600;
let server: OpenAiWireServer;
let engine: Engine;
let hurried: Engine;
let source: string;
/** What the fake model does with the next answer request; it sees the request body the client sent. */
let answerWith: (prompt: string) => ChatReply;
let rewriteWith: (prompt: string) => ChatReply;

beforeAll(async () => {
  source = await readFile(path.join(PROJECT_ROOT, COMMUNIQUE), 'utf8');
  server = await startOpenAiWireServer({
    chat: (body) => {
      const prompt = JSON.stringify(body['messages']);
      return prompt.includes('standalone question') ? rewriteWith(prompt) : answerWith(prompt);
    },
  });
  const model = createChatModel({
    model: 'test-model',
    apiKey: 'sk-local',
    baseUrl: server.baseUrl,
    timeoutMs: TIMEOUT_MS,
    temperature: 0,
  });
  const prompts = await loadPrompts(path.join(PROJECT_ROOT, 'prompts'));
  engine = await createEngine(corpus.engine.index, { model, prompts, timeoutMs: TIMEOUT_MS });
  hurried = await createEngine(corpus.engine.index, { model, prompts, timeoutMs: SHORT_TIMEOUT_MS });
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  rewriteWith = () => ({ content: 'unused' });
});

/** The number the prompt gives to the passage that contains `text`, as a model reading it would find it. */
function passageNumber(prompt: string, text: string): number {
  const numbers = [...prompt.matchAll(/\[(\d+)\] \(/g)].map((match) => ({ n: Number(match[1]), at: match.index }));
  const at = prompt.indexOf(text);
  return numbers.filter((entry) => entry.at < at).at(-1)?.n ?? 0;
}

async function ask(
  question: string,
  history?: Answer extends never ? never : Array<{ role: 'user' | 'assistant'; content: string }>,
  using: Engine = engine,
) {
  const events: AnswerEvent[] = [];
  const startedAt = performance.now();
  const answer = await using.answerer.answer({ question, history }, { onEvent: (event) => events.push(event) });
  return { answer, events, elapsedMs: performance.now() - startedAt };
}

function chatRequests() {
  return server.requests.filter((request) => request.path === '/v1/chat/completions');
}

function expectCitationsAtOffsets(answer: Answer): void {
  expect(answer.citations.length).toBeGreaterThan(0);
  expect(citationProblems(answer, (name) => (name === COMMUNIQUE ? source : undefined))).toEqual([]);
}

describe('generative answers', () => {
  it('sends the numbered passages and the question, streams the tokens, and verifies the citations', async () => {
    answerWith = (prompt) => {
      const n = passageNumber(prompt, 'Wiesbaden');
      return { tokens: ['Le nouveau ', 'commandement est ', `à Wiesbaden [${n}].`] };
    };
    const { answer, events } = await ask('Où se trouve le nouveau commandement ?');
    const [request] = chatRequests();
    const messages = (request?.body as { messages: Array<{ role: string; content: string }> }).messages;
    expect(messages[0]?.content).toContain('French');
    expect(messages[1]?.content).toMatch(/\[1\] \(Les ministres/);
    expect(messages[1]?.content).toContain('Question: Où se trouve le nouveau commandement ?');
    expect((request?.body as { temperature: number }).temperature).toBe(0);

    expect(events[0]?.type).toBe('citations');
    expect(
      events.filter((event) => event.type === 'token').map((event) => event.type === 'token' && event.text),
    ).toEqual(['Le nouveau ', 'commandement est ', expect.stringMatching(/^à Wiesbaden \[\d\]\.$/)]);
    expect(events.at(-1)).toEqual({ type: 'done', answer });
    expect(answer).toMatchObject({ found: true, mode: 'generative', language: 'fr', unsupported: [] });
    expect(answer.answer).toBe('Le nouveau commandement est à Wiesbaden. [1]');
    expect(answer.citations).toHaveLength(1);
    expect(answer.citations[0]?.quote).toMatch(/nouveau commandement à Wiesbaden/);
    expectCitationsAtOffsets(answer);
    expect(answer.usage).toEqual({ promptTokens: 42, completionTokens: expect.any(Number) });
    expect(answer.timings.firstTokenMs).toBeGreaterThan(0);
  });

  it('removes invented markers and reports sentences that cite nothing', async () => {
    answerWith = (prompt) => ({
      content: `Kaja Kallas est la haute représentante de l'UE [${passageNumber(prompt, 'Kaja Kallas')}] [9]. Elle parle souvent aux journalistes.`,
    });
    const { answer } = await ask('Qui est Kaja Kallas ?');
    expect(answer.answer).toBe(
      "Kaja Kallas est la haute représentante de l'UE. [1] Elle parle souvent aux journalistes.",
    );
    expect(answer.citations.map((citation) => citation.n)).toEqual([1]);
    expect(answer.unsupported).toEqual(['Elle parle souvent aux journalistes.']);
    expectCitationsAtOffsets(answer);
  });

  it('answers found: false when the model says the passages do not answer', async () => {
    answerWith = () => ({ content: 'NOT_IN_DOCUMENTS' });
    const { answer } = await ask('Quel est le rôle de Wiesbaden dans la formation ?');
    expect(answer).toMatchObject({ found: false, citations: [], answer: REFUSALS.fr, mode: 'generative' });
  });

  it('does not call the model when no passage is relevant', async () => {
    answerWith = () => {
      throw new Error('the model must not be called');
    };
    const { answer } = await ask('What is the capital of Australia?');
    expect(answer).toMatchObject({ found: false, answer: REFUSALS.en, citations: [] });
    expect(chatRequests()).toHaveLength(0);
  });

  it.each([
    ['a 500', (): ChatReply => ({ status: 500 }), /HTTP 500/],
    ['a timeout', (): ChatReply => ({ hang: true }), new RegExp(`did not answer within ${SHORT_TIMEOUT_MS} ms`)],
    ['a broken stream', (): ChatReply => ({ brokenAfter: ['Le nouveau '] }), /failed/],
    ['an answer citing nothing', (): ChatReply => ({ content: 'Quelque part en Allemagne.' }), /cited no passage/],
  ])('falls back to the extractive answer on %s, within the timeout', async (name, reply, warning) => {
    answerWith = reply;
    const timeoutMs = name === 'a timeout' ? SHORT_TIMEOUT_MS : TIMEOUT_MS;
    const using = name === 'a timeout' ? hurried : engine;
    const { answer, elapsedMs } = await ask('Où se trouve le nouveau commandement ?', undefined, using);
    expect(answer.mode).toBe('extractive-fallback');
    expect(answer.warning).toMatch(warning);
    expect(answer.found).toBe(true);
    expect(answer.answer).toMatch(/Wiesbaden/);
    expectCitationsAtOffsets(answer);
    // A hanging model would hold the answer until the test's own timeout; the slack is for a loaded machine.
    expect(elapsedMs).toBeLessThan(timeoutMs + 5000);
  });

  it('rewrites a follow-up with the model before retrieving', async () => {
    rewriteWith = () => ({ content: 'Que dit Mark Rutte de la Chine ?' });
    answerWith = (prompt) => ({
      content: `La Russie et la Chine tentent de déstabiliser nos pays [${passageNumber(prompt, 'la Chine tentent')}].`,
    });
    const history = [
      { role: 'user' as const, content: 'Que dit Mark Rutte de la Russie ?' },
      { role: 'assistant' as const, content: 'Il parle de sabotage.' },
    ];
    const { answer, events } = await ask('et la Chine ?', history);
    expect(answer.rewrittenQuestion).toBe('Que dit Mark Rutte de la Chine ?');
    expect(events[0]).toMatchObject({ type: 'citations', rewrittenQuestion: 'Que dit Mark Rutte de la Chine ?' });
    const [rewrite, generation] = chatRequests();
    expect(JSON.stringify(rewrite?.body)).toContain('User: Que dit Mark Rutte de la Russie ?');
    expect(JSON.stringify(generation?.body)).toContain('Question: Que dit Mark Rutte de la Chine ?');
    expect(answer.found).toBe(true);
  });
});

describe('POST /api/chat', () => {
  let base: string;
  let extractiveBase: string;
  const servers: Server[] = [];
  beforeAll(async () => {
    const listen = (app: ReturnType<typeof createApp>) =>
      new Promise<string>((resolve) => {
        const listening = app.listen(0, '127.0.0.1', () => {
          servers.push(listening);
          resolve(`http://127.0.0.1:${(listening.address() as AddressInfo).port}`);
        });
      });
    base = await listen(createApp({ engine: () => engine }));
    extractiveBase = await listen(createApp({ engine: () => corpus.engine }));
  });
  afterAll(() => Promise.all(servers.map((listening) => new Promise((resolve) => listening.close(resolve)))));

  /** Reads a whole event stream into its events. */
  async function events(response: Response): Promise<Array<{ event: string; data: unknown }>> {
    const text = await response.text();
    return text
      .split('\n\n')
      .filter((block) => block.trim() !== '')
      .map((block) => ({
        event: /^event: (.+)$/m.exec(block)?.[1] ?? '',
        data: JSON.parse(/^data: (.+)$/m.exec(block)?.[1] ?? 'null'),
      }));
  }

  const post = (url: string, body: unknown, signal?: AbortSignal) =>
    fetch(`${url}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });

  it('streams citations, tokens and the verified answer', async () => {
    answerWith = (prompt) => ({
      tokens: ['Le commandement ', `est à Wiesbaden [${passageNumber(prompt, 'Wiesbaden')}].`],
    });
    const response = await post(base, { question: 'Où se trouve le nouveau commandement ?' });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const received = await events(response);
    expect(received.map((item) => item.event)).toEqual(['citations', 'token', 'token', 'done']);
    expect(received.at(-1)?.data).toMatchObject({ mode: 'generative', found: true, citations: [{ n: 1 }] });
  });

  it('streams the same sequence in extractive mode, with a lexical rewrite of follow-ups', async () => {
    const history = [{ role: 'user', content: 'Que dit Mark Rutte de la Russie ?' }];
    const received = await events(await post(extractiveBase, { question: 'et la Chine ?', history }));
    expect(received[0]?.event).toBe('citations');
    expect(received[0]?.data).toMatchObject({ rewrittenQuestion: 'Que dit Mark Rutte de la Russie ? et la Chine ?' });
    expect(received.slice(1, -1).every((item) => item.event === 'token')).toBe(true);
    const done = received.at(-1);
    expect(done?.event).toBe('done');
    expect(done?.data).toMatchObject({ mode: 'extractive', found: true });
    expect(JSON.stringify(done?.data)).toMatch(/la Chine/);
  });

  it('rejects a bad body as JSON before any stream starts', async () => {
    const response = await post(base, { question: 'OTAN', history: [{ role: 'system', content: 'x' }] });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } });
    const tooLong = await post(base, { question: 'OTAN', history: Array(21).fill({ role: 'user', content: 'x' }) });
    expect(tooLong.status).toBe(400);
  });

  it('aborts the request to the model when the client goes away', async () => {
    answerWith = (prompt) => ({
      tokens: Array.from({ length: 40 }, (_, index) =>
        index === 0 ? `Wiesbaden [${passageNumber(prompt, 'Wiesbaden')}] ` : 'encore ',
      ),
      delayMs: 100,
    });
    const before = server.abandoned;
    const controller = new AbortController();
    const response = await post(base, { question: 'Où se trouve le nouveau commandement ?' }, controller.signal);
    const reader = response.body?.getReader();
    let seen = '';
    while (!seen.includes('event: token')) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      seen += new TextDecoder().decode(chunk.value);
    }
    controller.abort();
    const deadline = Date.now() + 10_000;
    while (server.abandoned === before && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.abandoned).toBe(before + 1);
  });
});
