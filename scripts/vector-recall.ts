/**
 * Tunes the vector index: for each lexical dimension and hnswlib setting, the build time and the recall of the
 * approximate search against exact search (every vector compared) on a sample of questions.
 *
 * Run:  npx tsx scripts/vector-recall.ts --corpus DIR [--dimensions 256,1024] [--m 16] [--ef-construction 40,200]
 *                                                   [--ef 32,64] [--sample 200]
 * The questions are words of the corpus's own lines, as the scale benchmark asks them.
 */
import path from 'node:path';
import hnswlib from 'hnswlib-node';
import { integerFlag, readFlags } from '../core/command-line.js';
import { DEFAULTS } from '../core/defaults.js';
import { LexicalEmbeddings } from '../core/embeddings/lexical-embeddings.js';
import { loadDocuments } from '../ingest/load-documents.js';
import { splitIntoChunks } from '../ingest/split-into-chunks.js';
import { seededRandom } from './lib/seeded-random.js';

const USAGE = `Usage: npx tsx scripts/vector-recall.ts --corpus DIR [options]

Options:
  --corpus DIR             documents to index
  --dimensions LIST        lexical dimensions (default 256,1024)
  --m LIST                 hnswlib M (default 16)
  --ef-construction LIST   hnswlib efConstruction (default 40,100,200)
  --ef LIST                search breadth (default 32,64,128)
  --k N                    neighbours compared (default 20)
  --sample N               questions (default 200)
  --help                   show this help`;

const list = (name: string, text: string) => text.split(',').map((value) => integerFlag(name, value, 1, 100_000));

async function main(): Promise<number> {
  const options = readFlags(
    {
      corpus: { type: 'string', default: '' },
      dimensions: { type: 'string', default: '256,1024' },
      m: { type: 'string', default: '16' },
      'ef-construction': { type: 'string', default: '40,100,200' },
      ef: { type: 'string', default: '32,64,128' },
      k: { type: 'string', default: '20' },
      sample: { type: 'string', default: '200' },
      help: { type: 'boolean', default: false },
    },
    USAGE,
    (values) => ({
      corpus: path.resolve(values.corpus),
      dimensions: list('dimensions', values.dimensions),
      m: list('m', values.m),
      efConstruction: list('ef-construction', values['ef-construction']),
      ef: list('ef', values.ef),
      k: integerFlag('k', values.k, 1, 1000),
      sample: integerFlag('sample', values.sample, 1, 10_000),
    }),
  );
  if (typeof options === 'number') return options;
  const documents = await loadDocuments(options.corpus);
  const texts = documents.flatMap((document) =>
    splitIntoChunks(document, DEFAULTS.chunking).map((chunk) => chunk.text),
  );
  const random = seededRandom(7);
  const questions = Array.from({ length: options.sample }, () => {
    const words = texts[Math.floor(random() * texts.length)]?.match(/\p{L}{4,}/gu) ?? [];
    const start = Math.floor(random() * Math.max(1, words.length - 4));
    return words.slice(start, start + 2 + Math.floor(random() * 3)).join(' ');
  });
  console.log(`${texts.length} chunks, ${questions.length} questions, k=${options.k}`);
  console.log('| dims | M | efConstruction | build s | ms/point (last 10 %) | ef | recall@k | query ms |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const dimensions of options.dimensions) {
    const embeddings = new LexicalEmbeddings({ dimensions }).fit(texts);
    const vectors = texts.map((text) => embeddings.vector(text));
    const queries = questions.map((question) => embeddings.vector(question));
    const exact = queries.map((query) => exactNearest(query, vectors, options.k));
    for (const m of options.m) {
      for (const efConstruction of options.efConstruction) {
        const index = new hnswlib.HierarchicalNSW('cosine', dimensions);
        index.initIndex(vectors.length, m, efConstruction, 100);
        const startedAt = performance.now();
        let lastTenth = startedAt;
        vectors.forEach((vector, label) => {
          if (label === Math.floor(vectors.length * 0.9)) lastTenth = performance.now();
          index.addPoint(vector, label);
        });
        const buildMs = performance.now() - startedAt;
        const perPoint = (performance.now() - lastTenth) / (vectors.length - Math.floor(vectors.length * 0.9));
        for (const ef of options.ef) {
          index.setEf(ef);
          let found = 0;
          let expected = 0;
          const searchStarted = performance.now();
          queries.forEach((query, position) => {
            if (query.every((value) => value === 0)) return;
            const truth = new Set(exact[position]);
            const result = index.searchKnn(query, options.k);
            expected += truth.size;
            found += result.neighbors.filter((label) => truth.has(label)).length;
          });
          const queryMs = (performance.now() - searchStarted) / queries.length;
          console.log(
            `| ${dimensions} | ${m} | ${efConstruction} | ${(buildMs / 1000).toFixed(1)} | ${perPoint.toFixed(3)} | ` +
              `${ef} | ${(found / expected).toFixed(3)} | ${queryMs.toFixed(2)} |`,
          );
        }
      }
    }
  }
  return 0;
}

/** The labels of the `k` vectors with the largest inner product (cosine, for unit vectors), best first. */
function exactNearest(query: Float32Array, vectors: readonly Float32Array[], k: number): number[] {
  const scores = vectors.map((vector, label) => {
    let dot = 0;
    for (let index = 0; index < query.length; index += 1) dot += (query[index] ?? 0) * (vector[index] ?? 0);
    return { label, dot };
  });
  return scores
    .sort((a, b) => b.dot - a.dot)
    .slice(0, k)
    .map((score) => score.label);
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error('vector-recall failed:', error);
    process.exitCode = 1;
  },
);
