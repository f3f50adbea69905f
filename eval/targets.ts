import { BM25Retriever } from '@langchain/community/retrievers/bm25';
import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import type { Answerer } from '../core/engine.js';
import { detectLanguage } from '../core/text/analyze.js';
import type { Answer, SourceDocument } from '../core/types.js';

/** Something that answers evaluation questions: the engine in process, a server over HTTP, or the baseline. */
export interface EvalTarget {
  name: string;
  answer(question: string, k: number): Promise<Answer>;
}

/** The engine loaded in this process. */
export function inProcessTarget(answerer: Answerer): EvalTarget {
  return {
    name: 'default',
    answer: (question, k) => answerer.answer({ question, k, includePassages: true }),
  };
}

/** A running server's `POST /api/answer`; a non-200 answer is an error carrying the server's message. */
export function httpTarget(baseUrl: string): EvalTarget {
  const endpoint = new URL('/api/answer', baseUrl).toString();
  return {
    name: new URL(baseUrl).host,
    async answer(question, k) {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question, k, includePassages: true }),
      });
      const body = (await response.json().catch(() => undefined)) as
        (Answer & { error?: { code: string; message: string } }) | undefined;
      if (!response.ok || body === undefined) {
        throw new Error(`HTTP ${response.status}: ${body?.error?.message ?? 'no JSON body'}`);
      }
      return body;
    },
  };
}

/** Chunk size and overlap of the stock LangChain recipe. */
const BASELINE_SPLITTER = { chunkSize: 1000, chunkOverlap: 200 };

/**
 * The pipeline a user would assemble by hand from stock LangChain parts: `RecursiveCharacterTextSplitter`
 * 1000/200, plain `BM25Retriever` top-k, no fusion, no refusal, and the top passage as the answer.
 */
export async function baselineTarget(documents: readonly SourceDocument[]): Promise<EvalTarget> {
  const splitter = new RecursiveCharacterTextSplitter(BASELINE_SPLITTER);
  const chunks = (
    await Promise.all(
      documents.map((document) =>
        splitter.createDocuments([document.text], [{ source: document.source, title: document.title }]),
      ),
    )
  ).flat();
  const texts = new Map(documents.map((document) => [document.source, document.text]));
  return {
    name: 'baseline',
    async answer(question, k) {
      const startedAt = performance.now();
      const hits = await BM25Retriever.fromDocuments(chunks, { k }).invoke(question);
      const retrieveMs = performance.now() - startedAt;
      const passages = hits.map((hit, index) => {
        const source = String(hit.metadata['source']);
        const start = texts.get(source)?.indexOf(hit.pageContent) ?? -1;
        return {
          rank: index + 1,
          chunkId: `baseline-${chunks.indexOf(hit)}`,
          source,
          title: String(hit.metadata['title']),
          section: [],
          start,
          end: start + hit.pageContent.length,
          text: hit.pageContent,
          score: 0,
        };
      });
      const top = passages[0];
      return {
        answer: top === undefined ? '' : `${top.text} [1]`,
        found: top !== undefined,
        language: detectLanguage(question),
        mode: 'extractive',
        citations:
          top === undefined
            ? []
            : [
                {
                  n: 1,
                  chunkId: top.chunkId,
                  source: top.source,
                  title: top.title,
                  section: [],
                  passage: top.text,
                  quote: top.text,
                  start: top.start,
                  end: top.end,
                  score: 0,
                },
              ],
        timings: { retrieveMs, totalMs: performance.now() - startedAt },
        passages,
      };
    },
  };
}
