import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFUSALS } from '../core/answer/answer-parts.js';
import { citationProblems } from '../core/answer/citation-contract.js';
import { ExtractiveAnswerer } from '../core/answer/extractive-answerer.js';
import { PassageFinder } from '../core/answer/find-passages.js';
import { GenerativeAnswerer } from '../core/answer/generative-answerer.js';
import { ModelRewriter } from '../core/conversation/rewrite-question.js';
import { DEFAULTS } from '../core/defaults.js';
import type { Answerer } from '../core/engine.js';
import type { PassageIndex } from '../core/index/passage-index.js';
import { createChatModel } from '../core/llm/create-chat-model.js';
import { loadPrompts, type Prompts } from '../core/llm/prompts.js';
import { HybridRetriever, type Retrieval, type Retriever } from '../core/retrieval/hybrid-retriever.js';
import type { Answer, AnswerEvent, AnswerMode, AnswerRequest, Language } from '../core/types.js';
import { type ChatReply, type OpenAiWireServer, startOpenAiWireServer } from './helpers/openai-wire-server.js';
import { COMMUNIQUE, PROJECT_ROOT, useCorpusEngine } from './helpers/test-index.js';
import { RETRIEVAL_CASES } from './retrieval-cases.js';

/**
 * One suite, run against every answerer (as hono runs one suite against each of its routers): whatever writes the
 * answer, the citation contract, the shape of a refusal, the answer's language, aborting and follow-ups behave the
 * same, and the passages are retrieved once per question.
 */

const corpus = useCorpusEngine();
const TIMEOUT_MS = 10_000;
const STANDALONE = 'Que dit Mark Rutte de la Chine ?';

/** The real retriever, counting its calls: how the suite sees that a fallback does not retrieve again. */
class CountingRetriever implements Retriever {
  calls = 0;
  constructor(private readonly inner: Retriever) {}
  retrieve(question: string, k: number): Promise<Retrieval> {
    this.calls += 1;
    return this.inner.retrieve(question, k);
  }
}

/**
 * A model that does its job: it rewrites the follow-up of the history case, and answers by restating the first
 * sentence of passage [1] with its marker.
 */
function dutifulModel(body: Record<string, unknown>): ChatReply {
  const prompt = JSON.stringify(body['messages']);
  if (prompt.includes('standalone question')) return { content: STANDALONE };
  const messages = body['messages'] as Array<{ content: string }>;
  const passage = /\[1\] \([^\n]*\)\n([^\n]+)/.exec(messages.at(-1)?.content ?? '')?.[1] ?? '';
  const sentence = /^[^.!?]+/.exec(passage)?.[0] ?? passage;
  return { tokens: [`${sentence.slice(0, 60)} `, `${sentence.slice(60)} [1].`] };
}

interface Implementation {
  name: string;
  /** The mode of an answer that was found. */
  mode: AnswerMode;
  /** Makes the answerer over the index, retrieving with `retriever`. */
  create: (index: PassageIndex, retriever: Retriever) => Answerer;
}

let prompts: Prompts;
let dutiful: OpenAiWireServer;
let failing: OpenAiWireServer;

function generativeOver(server: OpenAiWireServer, index: PassageIndex, retriever: Retriever): Answerer {
  const model = createChatModel({
    model: 'test-model',
    apiKey: 'sk-local',
    baseUrl: server.baseUrl,
    timeoutMs: TIMEOUT_MS,
    temperature: 0,
  });
  const finder = new PassageFinder(index, retriever);
  return new GenerativeAnswerer({
    model,
    prompts,
    finder,
    fallback: new ExtractiveAnswerer(finder),
    rewriter: new ModelRewriter(model, prompts.rewrite),
    options: { ...DEFAULTS.generation, timeoutMs: TIMEOUT_MS },
  });
}

const IMPLEMENTATIONS: Implementation[] = [
  {
    name: 'extractive',
    mode: 'extractive',
    create: (index, retriever) => new ExtractiveAnswerer(new PassageFinder(index, retriever)),
  },
  { name: 'generative', mode: 'generative', create: (index, retriever) => generativeOver(dutiful, index, retriever) },
  {
    name: 'generative whose model fails (extractive fallback)',
    mode: 'extractive-fallback',
    create: (index, retriever) => generativeOver(failing, index, retriever),
  },
];

let source: string;
beforeAll(async () => {
  source = await readFile(path.join(PROJECT_ROOT, COMMUNIQUE), 'utf8');
  prompts = await loadPrompts(path.join(PROJECT_ROOT, 'prompts'));
  dutiful = await startOpenAiWireServer({ chat: dutifulModel });
  failing = await startOpenAiWireServer({ chat: () => ({ status: 500 }) });
});
afterAll(async () => {
  await dutiful.close();
  await failing.close();
});

/** Questions whose words no passage covers: every answerer refuses them, the model being never asked. */
const UNRELATED: Array<{ question: string; language: Language }> = [
  { question: "Quelle est la capitale de l'Australie ?", language: 'fr' },
  { question: 'Qui a gagné la Coupe du monde de football en 2018 ?', language: 'fr' },
  { question: 'What is the weather in Paris?', language: 'en' },
  { question: 'What is the capital of Australia?', language: 'en' },
];

describe.each(IMPLEMENTATIONS)('the $name answerer', ({ mode, create }) => {
  let answerer: Answerer;
  let retriever: CountingRetriever;
  beforeAll(() => {
    retriever = new CountingRetriever(new HybridRetriever(corpus.engine.index));
    answerer = create(corpus.engine.index, retriever);
  });

  async function ask(request: AnswerRequest, signal?: AbortSignal) {
    const events: AnswerEvent[] = [];
    const callsBefore = retriever.calls;
    const answer = await answerer.answer(request, { signal, onEvent: (event) => events.push(event) });
    return { answer, events, retrievals: retriever.calls - callsBefore };
  }

  const problemsOf = (answer: Answer) => citationProblems(answer, (name) => (name === COMMUNIQUE ? source : undefined));

  it.each(RETRIEVAL_CASES)('keeps the citation contract, retrieving once: $question', async ({ question }) => {
    const { answer, retrievals } = await ask({ question });
    expect(answer.found).toBe(true);
    expect(answer.mode).toBe(mode);
    expect(answer.citations.length).toBeGreaterThan(0);
    expect(problemsOf(answer)).toEqual([]);
    expect(retrievals).toBe(1);
  });

  it('reports the citations, then tokens, then the answer it returns', async () => {
    const { answer, events } = await ask({ question: "Où l'OTAN met-elle en place un nouveau commandement ?" });
    expect(events[0]?.type).toBe('citations');
    expect(events.slice(1, -1).every((event) => event.type === 'token')).toBe(true);
    expect(events.at(-1)).toEqual({ type: 'done', answer });
  });

  it.each(UNRELATED)(
    'refuses in the question’s language, citing nothing: $question',
    async ({ question, language }) => {
      const { answer, retrievals } = await ask({ question });
      expect(answer).toMatchObject({ found: false, citations: [], language, answer: REFUSALS[language] });
      expect(problemsOf(answer)).toEqual([]);
      expect(retrievals).toBe(1);
    },
  );

  it.each([
    { question: 'Where is NATO setting up a new command?', language: 'en' },
    { question: "Où l'OTAN met-elle en place un nouveau commandement ?", language: 'fr' },
  ])('answers in the language of the question: $language', async ({ question, language }) => {
    const { answer } = await ask({ question });
    expect(answer.language).toBe(language);
    expect(answer.found).toBe(true);
  });

  it('rejects with the reason of a signal aborted before it starts, and reports no answer', async () => {
    const controller = new AbortController();
    const reason = new Error('the client went away');
    controller.abort(reason);
    const events: AnswerEvent[] = [];
    await expect(
      answerer.answer(
        { question: 'Where is NATO setting up a new command?' },
        { signal: controller.signal, onEvent: (event) => events.push(event) },
      ),
    ).rejects.toBe(reason);
    expect(events.some((event) => event.type === 'done')).toBe(false);
  });

  it('rejects with the reason of a signal aborted while it works, and reports no answer', async () => {
    const controller = new AbortController();
    const reason = new Error('the client went away');
    const events: AnswerEvent[] = [];
    await expect(
      answerer.answer(
        { question: 'Where is NATO setting up a new command?' },
        {
          signal: controller.signal,
          onEvent: (event) => {
            events.push(event);
            if (event.type === 'citations') controller.abort(reason);
          },
        },
      ),
    ).rejects.toBe(reason);
    expect(events.map((event) => event.type)).toEqual(['citations']);
  });

  it('answers a follow-up with the conversation, and says what it searched', async () => {
    const history = [
      { role: 'user' as const, content: 'Que dit Mark Rutte de la Russie ?' },
      { role: 'assistant' as const, content: 'Il parle de sabotage.' },
    ];
    const { answer, events } = await ask({ question: 'et la Chine ?', history });
    expect(answer.found).toBe(true);
    expect(answer.language).toBe('fr');
    expect(answer.rewrittenQuestion).toMatch(/Mark Rutte de la .*Chine/);
    expect(events[0]).toMatchObject({ type: 'citations', rewrittenQuestion: answer.rewrittenQuestion });
    expect(problemsOf(answer)).toEqual([]);

    const alone = await ask({ question: 'et la Chine ?' });
    expect(alone.answer.rewrittenQuestion).toBeUndefined();
    expect(alone.events[0]).toMatchObject({ type: 'citations', rewrittenQuestion: 'et la Chine ?' });
  });
});

describe('the extractive fallback', () => {
  it('answers from the passages already found, exactly as the extractive answerer does', async () => {
    const index = corpus.engine.index;
    const extractive = IMPLEMENTATIONS[0]?.create(index, new HybridRetriever(index));
    const retriever = new CountingRetriever(new HybridRetriever(index));
    const fallback = IMPLEMENTATIONS[2]?.create(index, retriever);
    for (const { question } of RETRIEVAL_CASES) {
      const expected = await extractive?.answer({ question, includePassages: true });
      const answer = await fallback?.answer({ question, includePassages: true });
      expect(answer?.mode).toBe('extractive-fallback');
      expect(answer?.warning).toMatch(/HTTP 500/);
      expect(answer?.answer).toBe(expected?.answer);
      expect(answer?.citations).toEqual(expected?.citations);
      expect(answer?.passages).toEqual(expected?.passages);
    }
    expect(retriever.calls).toBe(RETRIEVAL_CASES.length);
  });
});
