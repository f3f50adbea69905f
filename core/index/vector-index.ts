import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import hnswlib from 'hnswlib-node';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULTS } from '../defaults.js';
import { LexicalEmbeddings } from '../embeddings/lexical-embeddings.js';
import { contextText } from '../section-title.js';
import type { Chunk } from '../types.js';

/**
 * The hnswlib vector index (cosine space), labelled by chunk ordinal.
 *
 * hnswlib-node is used directly rather than through LangChain's `HNSWLib` store: that store keeps a second copy of
 * every passage (its docstore, 52 MB at 100k passages, parsed whole at start-up) and takes vectors as arrays of JS
 * numbers; here the passages live in the chunk store and a label is the chunk's ordinal. hnswlib reports a cosine
 * *distance*; this adapter turns it into a similarity in [-1, 1].
 */
export interface VectorHit {
  ordinal: number;
  similarity: number;
}

/** hnswlib's settings for an index: graph degree and construction breadth. */
export interface VectorIndexSettings {
  m: number;
  efConstruction: number;
}

/**
 * The vector index: one hnswlib graph, or for a large corpus a few graphs (shards) that were built in parallel, each
 * holding every n-th passage; a question searches each and keeps the nearest of all.
 */
export class VectorIndex {
  private constructor(
    private readonly shards: readonly hnswlib.HierarchicalNSW[],
    private readonly embeddings: EmbeddingsInterface,
  ) {}

  /**
   * Loads the shard files `VectorIndexBuilder.finish` wrote; a failure's error names its `file`. Each file is read
   * (in a thread of libuv's pool) once `check` has accepted it, and the next one is checked while it is read.
   */
  static async load(
    files: readonly string[],
    dimensions: number,
    embeddings: EmbeddingsInterface,
    check: (file: string) => Promise<void> = () => Promise.resolve(),
  ): Promise<VectorIndex> {
    const reads: Array<Promise<hnswlib.HierarchicalNSW>> = [];
    for (const file of files) {
      await check(file);
      const read = readShard(file, dimensions);
      // Heard by Promise.all below, unless a later file's check fails first.
      read.catch(() => undefined);
      reads.push(read);
    }
    return new VectorIndex(await Promise.all(reads), embeddings);
  }

  get size(): number {
    return this.shards.reduce((total, shard) => total + shard.getCurrentCount(), 0);
  }

  get dimensions(): number {
    return this.shards[0]?.getNumDimensions() ?? 0;
  }

  /** The passages nearest to a question, most similar first. */
  async query(question: string, limit: number): Promise<VectorHit[]> {
    if (Math.min(limit, this.size) === 0) return [];
    // hnswlib copies a Float32Array whole, where it reads an array of numbers one number at a time; the lexical
    // embedder makes one directly.
    const vector =
      this.embeddings instanceof LexicalEmbeddings
        ? this.embeddings.vector(question)
        : Float32Array.from(await this.embeddings.embedQuery(question));
    // A question with no content word embeds to zeros, whose cosine distance is undefined.
    if (vector.every((value) => value === 0)) return [];
    const hits: VectorHit[] = [];
    for (const shard of this.shards) {
      const count = Math.min(limit, shard.getCurrentCount());
      if (count === 0) continue;
      const result = shard.searchKnn(vector, count);
      result.neighbors.forEach((ordinal, position) =>
        hits.push({ ordinal, similarity: 1 - (result.distances[position] ?? 1) }),
      );
    }
    return hits.sort((a, b) => b.similarity - a.similarity || a.ordinal - b.ordinal).slice(0, limit);
  }
}

async function readShard(file: string, dimensions: number): Promise<hnswlib.HierarchicalNSW> {
  const shard = new hnswlib.HierarchicalNSW('cosine', dimensions);
  // The file that failed is named on the error, for the message the index store gives.
  await shard.readIndex(file).catch((error: unknown) => {
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { file });
  });
  shard.setEf(DEFAULTS.vectors.efSearch);
  return shard;
}

/** hnswlib's settings for a build: the graphs' and how they are split into shards. */
export type VectorBuildSettings = VectorIndexSettings &
  Pick<typeof DEFAULTS.vectors, 'shardSize' | 'parallelShards' | 'buildMemoryMb'>;

/** How a corpus's vectors are split into graphs (shards), and how many of them are built at once. */
export interface ShardPlan {
  shards: number;
  parallel: number;
}

/**
 * One shard per `shardSize` passages, built in parallel, at most one per core and `parallelShards`; and more shards,
 * built in waves of that many, when the graphs would otherwise hold more than `buildMemoryMb` together.
 */
export function shardPlan(
  passages: number,
  dimensions: number,
  settings: VectorBuildSettings = DEFAULTS.vectors,
): ShardPlan {
  const wanted = Math.ceil(passages / settings.shardSize);
  const parallel = Math.max(1, Math.min(settings.parallelShards, availableParallelism(), wanted));
  // A passage in a graph: its vector, its links on the bottom layer (2M), its label, level and lock.
  const bytes = dimensions * 4 + settings.m * 8 + 64;
  const perShard = Math.max(1, Math.floor((settings.buildMemoryMb * 2 ** 20) / (parallel * bytes)));
  const waves = Math.max(1, Math.ceil(passages / (parallel * perShard)));
  return { shards: parallel * waves, parallel };
}

/**
 * Builds the vector index in worker threads, so that the graphs' construction (the costliest step of an ingest)
 * runs on other cores while the main thread prepares the rest of the index. The passages are taken in waves of
 * consecutive ordinals, one per `plan.parallel` shards: in a wave, passage n goes to the wave's shard n mod
 * `plan.parallel`, labelled n; a wave's shards are written to `fileOf(shard)` and their workers ended as the next
 * wave starts.
 */
export class VectorIndexBuilder {
  private readonly plan: ShardPlan;
  /** Passages per wave. */
  private readonly span: number;
  private wave = -1;
  private building: ShardBuilder[] = [];
  /** Every shard started, for `abandon`. */
  private readonly started: ShardBuilder[] = [];
  /** The earlier waves being written; a failure there is kept for the next call. */
  private written: Promise<void> = Promise.resolve();
  private readonly checksums: Record<string, string> = {};
  private failure: unknown;
  private added = 0;

  constructor(
    readonly dimensions: number,
    capacity: number,
    private readonly fileOf: (shard: number) => string,
    private readonly settings: VectorBuildSettings = DEFAULTS.vectors,
    plan: ShardPlan = shardPlan(capacity, dimensions, settings),
  ) {
    this.plan = plan;
    this.span = Math.max(1, Math.ceil(capacity / (plan.shards / plan.parallel)));
  }

  get size(): number {
    return this.added;
  }

  /** Shards started so far: all of them once `finish` has resolved. */
  get shardCount(): number {
    return this.started.length;
  }

  /** Adds the next vector (copied). */
  add(vector: ArrayLike<number>): void {
    if (vector.length !== this.dimensions) {
      throw new Error(`a vector of ${vector.length} dimensions in an index of ${this.dimensions}`);
    }
    if (this.failure !== undefined) throw this.failure;
    const wave = Math.floor(this.added / this.span);
    if (wave !== this.wave) this.startWave(wave);
    this.building[(this.added - wave * this.span) % this.building.length]?.add(vector);
    this.added += 1;
  }

  /**
   * Resolves once the workers have caught up enough: the previous wave is written, and vectors waiting to be
   * inserted stay under `DEFAULTS.vectors.queuedBatches` batches per shard, so memory does not hold a whole corpus
   * of them.
   */
  async drained(): Promise<void> {
    await this.written;
    if (this.failure !== undefined) throw this.failure;
    await Promise.all(this.building.map((shard) => shard.drained()));
  }

  /**
   * Waits for every vector to be inserted and the last wave's shards to be written; resolves to the SHA-256 of each
   * graph file by name, which its thread reads back once written.
   */
  async finish(): Promise<Record<string, string>> {
    this.writeWave();
    await this.written;
    if (this.failure !== undefined) throw this.failure;
    return { ...this.checksums };
  }

  /** Stops the workers without writing anything, after a failure elsewhere. */
  async abandon(): Promise<void> {
    await Promise.all(this.started.map((shard) => shard.abandon()));
  }

  private startWave(wave: number): void {
    this.writeWave();
    this.wave = wave;
    const first = wave * this.span;
    const capacity = Math.ceil(this.span / this.plan.parallel);
    this.building = Array.from(
      { length: this.plan.parallel },
      (_shard, index) => new ShardBuilder(this.dimensions, capacity, first + index, this.plan.parallel, this.settings),
    );
    this.started.push(...this.building);
  }

  /** Writes the current wave's shards, numbered after the earlier waves', and ends their workers. */
  private writeWave(): void {
    const shards = this.building;
    const base = this.started.length - shards.length;
    this.building = [];
    if (shards.length === 0) return;
    const writing = Promise.all(
      shards.map(async (shard, index) => {
        const file = this.fileOf(base + index);
        this.checksums[path.basename(file)] = await shard.finish(file);
      }),
    );
    this.written = Promise.all([this.written, writing]).then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= error;
      },
    );
  }
}

/** One shard's worker: vectors are sent in batches; the worker labels them first, first + stride, … */
class ShardBuilder {
  private readonly worker: Worker;
  private batch: Float32Array;
  private filled = 0;
  private sent = 0;
  private failure: Error | undefined;
  private readonly exited: Promise<void>;
  private readonly replies: Array<(message: WorkerReply) => void> = [];
  /** Batches sent and not yet inserted, and who waits for fewer. */
  private queued = 0;
  private waiting: Array<() => void> = [];

  constructor(
    private readonly dimensions: number,
    capacity: number,
    private readonly first: number,
    private readonly stride: number,
    settings: VectorIndexSettings,
  ) {
    const hnswlibPath = createRequire(import.meta.url).resolve('hnswlib-node');
    this.worker = new Worker(BUILD_WORKER, { eval: true, workerData: { hnswlibPath, dimensions, capacity, settings } });
    this.batch = new Float32Array(dimensions * DEFAULTS.vectors.batch);
    this.worker.on('message', (message: WorkerReply) => {
      if (message.type === 'added') {
        this.queued -= 1;
        if (this.queued <= DEFAULTS.vectors.queuedBatches) this.release();
        return;
      }
      const reply = this.replies.shift();
      if (reply !== undefined) reply(message);
      else if (message.type === 'error') {
        this.failure = new Error(message.message);
        this.release();
      }
    });
    this.worker.on('error', (error) => {
      this.failure = error;
      for (const reply of this.replies.splice(0)) reply({ type: 'error', message: error.message });
      this.release();
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  add(vector: ArrayLike<number>): void {
    if (this.failure !== undefined) throw this.failure;
    this.batch.set(vector, this.filled * this.dimensions);
    this.filled += 1;
    if (this.filled * this.dimensions === this.batch.length) this.send();
  }

  drained(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.queued <= DEFAULTS.vectors.queuedBatches) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  /** Writes the graph to `file` once every vector is inserted; resolves to the file's SHA-256. */
  async finish(file: string): Promise<string> {
    if (this.failure !== undefined) throw this.failure;
    this.send();
    const reply = await this.request({ type: 'save', file });
    if (reply.type === 'error') throw new Error(`building the vector index failed: ${reply.message}`);
    if (this.failure !== undefined) throw this.failure;
    await this.worker.terminate();
    if (reply.type !== 'saved') throw new Error(`the thread building ${file} answered ${reply.type}`);
    return reply.checksum;
  }

  async abandon(): Promise<void> {
    await this.worker.terminate();
    await this.exited;
  }

  private send(): void {
    if (this.filled === 0) return;
    const vectors = this.batch.subarray(0, this.filled * this.dimensions);
    const first = this.first + this.sent * this.stride;
    this.worker.postMessage({ type: 'add', vectors, first, stride: this.stride }, [vectors.buffer as ArrayBuffer]);
    this.queued += 1;
    this.sent += this.filled;
    this.filled = 0;
    this.batch = new Float32Array(this.dimensions * DEFAULTS.vectors.batch);
  }

  private request(message: { type: 'save'; file: string }): Promise<WorkerReply> {
    if (this.failure !== undefined) return Promise.resolve({ type: 'error', message: this.failure.message });
    return new Promise((resolve) => {
      this.replies.push(resolve);
      this.worker.postMessage(message);
    });
  }
}

/** What the worker answers to `save`, or says of an `add` that failed. */
type WorkerReply =
  { type: 'added' } | { type: 'saved'; count: number; checksum: string } | { type: 'error'; message: string };

/**
 * The worker thread: inserts the vectors it is sent into an hnswlib index, labelled in order of arrival, and writes
 * the index when asked, then reads the file back for its checksum (the manifest's, taken here, in parallel with the
 * other shards, rather than by the thread writing the manifest); messages are handled one at a time, so a `save`
 * comes after every `add` before it. It is
 * plain JavaScript evaluated in the thread, because a worker does not inherit the TypeScript loader of the process
 * (under tsx or vitest alike); it only drives hnswlib.
 */
const BUILD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { HierarchicalNSW } = require(workerData.hnswlibPath);
const { dimensions, capacity, settings } = workerData;
const { createHash } = require('node:crypto');
const { closeSync, openSync, readSync } = require('node:fs');
function checksum(file) {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  const descriptor = openSync(file, 'r');
  try {
    for (let read = readSync(descriptor, buffer); read > 0; read = readSync(descriptor, buffer)) {
      hash.update(buffer.subarray(0, read));
    }
  } finally {
    closeSync(descriptor);
  }
  return hash.digest('hex');
}
const index = new HierarchicalNSW('cosine', dimensions);
// A fixed seed: the same corpus builds the same graph.
index.initIndex(Math.max(1, capacity), settings.m, settings.efConstruction, 100);
let count = 0;
let room = Math.max(1, capacity);
parentPort.on('message', (message) => {
  try {
    if (message.type === 'add') {
      const total = message.vectors.length / dimensions;
      if (count + total > room) {
        room = Math.max(room * 2, count + total);
        index.resizeIndex(room);
      }
      for (let offset = 0; offset < total; offset += 1) {
        const point = message.vectors.subarray(offset * dimensions, (offset + 1) * dimensions);
        index.addPoint(point, message.first + offset * message.stride);
      }
      count += total;
      parentPort.postMessage({ type: 'added' });
      return;
    }
    if (count > 0 && count < room) index.resizeIndex(count);
    index.writeIndexSync(message.file);
    parentPort.postMessage({ type: 'saved', count, checksum: checksum(message.file) });
  } catch (error) {
    parentPort.postMessage({ type: 'error', message: String(error && error.message) });
  }
});
`;

/** What is embedded of a passage: its document title and section path, which say what it is about, then its text. */
export function embeddedText(chunk: Pick<Chunk, 'title' | 'section' | 'text'>): string {
  return `${contextText(chunk)}\n${chunk.text}`;
}
