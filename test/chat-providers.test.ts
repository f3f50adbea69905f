import path from 'node:path';
import { MODEL_PROVIDER_CONFIG } from 'langchain/chat_models/universal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../core/config.js';
import { createEngine } from '../core/engine.js';
import { CHAT_PROVIDER_PACKAGES } from '../core/llm/chat-providers.js';
import { loadChatModel } from '../core/llm/create-chat-model.js';
import { loadPrompts } from '../core/llm/prompts.js';
import { type OpenAiWireServer, startOpenAiWireServer } from './helpers/openai-wire-server.js';
import { PROJECT_ROOT, useCorpusEngine } from './helpers/test-index.js';

const corpus = useCorpusEngine();
let upstream: OpenAiWireServer;

beforeAll(async () => {
  upstream = await startOpenAiWireServer({
    chat: (body) => {
      const prompt = JSON.stringify(body['messages']);
      const wiesbaden = /\[(\d+)\] \([^)]*\)\\n[^[]*Wiesbaden/.exec(prompt)?.[1] ?? '1';
      return { tokens: ['Le commandement ', `est à Wiesbaden [${wiesbaden}].`] };
    },
  });
});
afterAll(() => upstream.close());

describe('CHAT_MODEL=provider:model through LangChain initChatModel', () => {
  it('knows the same providers and packages as langchain', () => {
    expect(
      Object.fromEntries(Object.entries(MODEL_PROVIDER_CONFIG).map(([name, entry]) => [name, entry.package])),
    ).toEqual(CHAT_PROVIDER_PACKAGES);
  });

  it('writes answers with the openai provider, reached at OPENAI_BASE_URL', async () => {
    const config = parseConfig({ CHAT_MODEL: 'openai:local-model', OPENAI_BASE_URL: upstream.baseUrl });
    if (config.chat === undefined) throw new Error('no chat configuration');
    const model = await loadChatModel(config.chat);
    const engine = await createEngine(corpus.engine.index, {
      model,
      prompts: await loadPrompts(path.join(PROJECT_ROOT, 'prompts')),
      timeoutMs: 5_000,
    });
    const tokens: string[] = [];
    const answer = await engine.answerer.answer(
      { question: 'Où se trouve le nouveau commandement ?' },
      { onEvent: (event) => (event.type === 'token' ? tokens.push(event.text) : undefined) },
    );
    expect(answer).toMatchObject({ mode: 'generative', found: true, answer: 'Le commandement est à Wiesbaden. [1]' });
    expect(answer.citations[0]?.quote).toContain('Wiesbaden');
    expect(tokens.join('')).toBe('Le commandement est à Wiesbaden [1].');
    const request = upstream.requests.find((candidate) => candidate.path === '/v1/chat/completions');
    expect(request?.body).toMatchObject({ model: 'local-model', stream: true, temperature: 0 });
  });

  it('names the package to install when the provider is missing', async () => {
    const config = parseConfig({ CHAT_MODEL: 'anthropic:claude-3-5-haiku-latest' });
    if (config.chat === undefined) throw new Error('no chat configuration');
    const failure = await loadChatModel(config.chat).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as Error).message).toBe(
      'CHAT_MODEL=anthropic:claude-3-5-haiku-latest needs the package @langchain/anthropic: ' +
        'run `npm install @langchain/anthropic`.',
    );
  });
});
