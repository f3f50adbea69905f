import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../core/config.js';

describe('parseConfig', () => {
  it('defaults to the embedded lexical mode on port 3000', () => {
    const config = parseConfig({}, '/srv/app');
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      corpusDir: path.resolve('/srv/app/corpus'),
      indexDir: path.resolve('/srv/app/data/index'),
      embedder: { kind: 'lexical', dimensions: 1024 },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('selects OpenAI embeddings when a key is given, unless told otherwise', () => {
    expect(parseConfig({ OPENAI_API_KEY: 'sk-test' }).embedder).toMatchObject({
      kind: 'openai',
      model: 'text-embedding-3-small',
    });
    expect(parseConfig({ OPENAI_API_KEY: 'sk-test', EMBEDDER: 'lexical' }).embedder.kind).toBe('lexical');
    expect(parseConfig({ EMBEDDER: 'openai', OPENAI_BASE_URL: 'http://localhost:11434/v1' }).embedder).toMatchObject({
      kind: 'openai',
      apiKey: undefined,
      baseUrl: 'http://localhost:11434/v1',
    });
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ EMBEDDER: 'magic' }, /EMBEDDER/],
    [{ OPENAI_BASE_URL: 'not a url' }, /OPENAI_BASE_URL/],
    [{ EMBEDDER: 'openai' }, /OPENAI_API_KEY/],
  ])('names the variable at fault in %o', (environment, variable) => {
    expect(() => parseConfig(environment)).toThrow(ConfigError);
    expect(() => parseConfig(environment)).toThrow(variable);
  });

  it('treats empty variables as unset', () => {
    expect(parseConfig({ OPENAI_API_KEY: '', OPENAI_BASE_URL: '' }).embedder.kind).toBe('lexical');
  });
});

describe('chat configuration', () => {
  it('is absent without a key or base URL: answers stay extractive', () => {
    expect(parseConfig({}).chat).toBeUndefined();
  });

  it('uses OpenAI with a key, or the model named by CHAT_MODEL at a base URL', () => {
    expect(parseConfig({ OPENAI_API_KEY: 'sk-test' }).chat).toEqual({
      model: 'gpt-4o-mini',
      apiKey: 'sk-test',
      baseUrl: undefined,
      timeoutMs: 20_000,
      temperature: 0,
    });
    expect(parseConfig({ OPENAI_BASE_URL: 'http://localhost:11434/v1' }).chat).toBeUndefined();
    expect(() => parseConfig({ CHAT_MODEL: 'llama3.1' })).toThrow(/OPENAI_BASE_URL/);
    expect(
      parseConfig({ OPENAI_BASE_URL: 'http://localhost:11434/v1', CHAT_MODEL: 'llama3.1', LLM_TIMEOUT_MS: '5000' })
        .chat,
    ).toMatchObject({ model: 'llama3.1', apiKey: undefined, timeoutMs: 5000 });
    expect(() => parseConfig({ OPENAI_API_KEY: 'k', LLM_TIMEOUT_MS: 'soon' })).toThrow(/LLM_TIMEOUT_MS/);
  });

  it('names the judge of the evaluation with JUDGE_MODEL, and has none of its own otherwise', () => {
    expect(parseConfig({ OPENAI_API_KEY: 'k', JUDGE_MODEL: 'gpt-4o' }).judgeModel).toBe('gpt-4o');
    expect(parseConfig({ OPENAI_API_KEY: 'k', JUDGE_MODEL: ' ' }).judgeModel).toBeUndefined();
  });
});

describe('.env.example', () => {
  it('lists every variable the configuration reads, with a comment above it', async () => {
    const example = await readFile(path.join(import.meta.dirname, '..', '.env.example'), 'utf8');
    const source = await readFile(path.join(import.meta.dirname, '..', 'core', 'config.ts'), 'utf8');
    const schema = source.slice(source.indexOf('const environmentSchema'), source.indexOf('});'));
    const variables = [...schema.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((match) => match[1]);
    expect(variables).toContain('JUDGE_MODEL');
    const lines = example.split('\n');
    for (const variable of variables) {
      const at = lines.findIndex((line) => line.startsWith(`${variable}=`));
      expect(at, variable).toBeGreaterThan(0);
      expect(
        lines.slice(0, at).findLast((line) => !/^[A-Z][A-Z0-9_]+=/.test(line)),
        variable,
      ).toMatch(/^# /);
    }
  });
});

describe('CHAT_MODEL with a LangChain provider', () => {
  it('splits provider:model for the providers initChatModel knows, and only those', () => {
    expect(parseConfig({ CHAT_MODEL: 'anthropic:claude-3-5-haiku-latest' }).chat).toMatchObject({
      provider: 'anthropic',
      model: 'claude-3-5-haiku-latest',
    });
    expect(parseConfig({ CHAT_MODEL: 'openai:gpt-4o-mini', OPENAI_API_KEY: 'k' }).chat).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o-mini',
    });
    // Ollama names models with a colon: a prefix that is no provider keeps the bare, OpenAI-compatible behaviour.
    expect(parseConfig({ CHAT_MODEL: 'qwen2.5:7b', OPENAI_BASE_URL: 'http://localhost:11434/v1' }).chat).toMatchObject({
      provider: undefined,
      model: 'qwen2.5:7b',
    });
    expect(parseConfig({ CHAT_MODEL: 'ollama:llama3.1:8b' }).chat).toMatchObject({
      provider: 'ollama',
      model: 'llama3.1:8b',
    });
  });

  it('asks for OpenAI settings only for OpenAI, and for a model after the provider', () => {
    expect(() => parseConfig({ CHAT_MODEL: 'openai:gpt-4o-mini' })).toThrow(/OPENAI_API_KEY/);
    expect(() => parseConfig({ CHAT_MODEL: 'mistralai:' })).toThrow(/names no model/);
  });
});

describe('HTTP settings of the protocols', () => {
  it('names the served model after the corpus folder unless told, and keeps the public URL without a final slash', () => {
    expect(parseConfig({}, '/srv/app').http).toMatchObject({ modelName: 'cited-answers-corpus', publicUrl: undefined });
    expect(parseConfig({ CORPUS_DIR: '../Docs Équipe' }, '/srv/app').http.modelName).toBe('cited-answers-docs-equipe');
    expect(
      parseConfig({ SERVED_MODEL_NAME: 'handbook', PUBLIC_URL: 'https://answers.example.org/kb/' }).http,
    ).toMatchObject({ modelName: 'handbook', publicUrl: 'https://answers.example.org/kb' });
    expect(() => parseConfig({ SERVED_MODEL_NAME: 'two words' })).toThrow(/SERVED_MODEL_NAME/);
    expect(() => parseConfig({ PUBLIC_URL: 'ftp://example.org' })).toThrow(/PUBLIC_URL/);
  });

  it('reads the embeds, with their defaults, and names what is wrong in them', () => {
    const embeds = parseConfig({
      EMBEDS: JSON.stringify([{ id: 'docs-site', origins: ['https://docs.example.org/', 'http://localhost:8080'] }]),
    }).http.embeds;
    expect(embeds).toEqual([
      {
        id: 'docs-site',
        origins: ['https://docs.example.org', 'http://localhost:8080'],
        enabled: true,
        requestsPerMinute: 120,
        requestsPerMinutePerAddress: 10,
      },
    ]);
    expect(() => parseConfig({ EMBEDS: '[{' })).toThrow(/EMBEDS: must be a JSON array/);
    expect(() => parseConfig({ EMBEDS: '[{"id": "a b", "origins": ["https://x.org"]}]' })).toThrow(/EMBEDS\.0\.id/);
    expect(() => parseConfig({ EMBEDS: '[{"id": "a", "origins": []}]' })).toThrow(/at least one origin/);
    expect(() => parseConfig({ EMBEDS: '[{"id": "a", "origins": ["https://x.org"], "model": "gpt-4o"}]' })).toThrow(
      /model/,
    );
    expect(() =>
      parseConfig({ EMBEDS: '[{"id": "a", "origins": ["https://x.org"]}, {"id": "a", "origins": ["https://y.org"]}]' }),
    ).toThrow(/used twice/);
  });
});
