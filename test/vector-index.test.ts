import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FakeEmbeddings } from '@langchain/core/utils/testing';
import hnswlib from 'hnswlib-node';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../core/defaults.js';
import { fileChecksum } from '../core/index/index-store.js';
import { shardPlan, VectorIndex, VectorIndexBuilder } from '../core/index/vector-index.js';
import { seededRandom } from '../scripts/lib/seeded-random.js';

const temp = await mkdtemp(path.join(os.tmpdir(), 'vector-index-'));
afterAll(() => rm(temp, { recursive: true, force: true }));

function unitVectors(count: number, dimensions: number): Float32Array[] {
  const random = seededRandom(3);
  return Array.from({ length: count }, () => {
    const vector = Float32Array.from({ length: dimensions }, () => random() - 0.5);
    const norm = Math.hypot(...vector);
    return vector.map((value) => value / norm);
  });
}

/** Embeds every question as the vector it is told to. */
class FixedEmbeddings extends FakeEmbeddings {
  vector: number[] = [];
  override embedQuery(): Promise<number[]> {
    return Promise.resolve(this.vector);
  }
}

describe('hnswlib-node as patched (patches/hnswlib-node+3.0.0.patch)', () => {
  it('takes points as Float32Arrays, building and searching as with arrays of numbers', () => {
    const vectors = unitVectors(200, 32);
    const [fromArrays, fromTyped] = [0, 1].map(() => {
      const index = new hnswlib.HierarchicalNSW('cosine', 32);
      index.initIndex(vectors.length, 12, 40, 100);
      return index;
    });
    vectors.forEach((vector, label) => {
      fromArrays?.addPoint(Array.from(vector), label);
      fromTyped?.addPoint(vector, label);
    });
    for (const query of vectors.slice(0, 20)) {
      const expected = fromArrays?.searchKnn(Array.from(query), 10);
      expect(fromTyped?.searchKnn(query, 10)).toEqual(expected);
      expect(fromArrays?.searchKnn(query, 10)).toEqual(expected);
    }
    // A view into a larger buffer is read from its own offset.
    const batch = new Float32Array(32 * 3);
    batch.set(vectors[7] ?? [], 32);
    expect(fromTyped?.searchKnn(batch.subarray(32, 64), 1).neighbors).toEqual([7]);
  });

  it('builds, resizes, writes and reads a graph whose bottom layer is asked for in huge pages', async () => {
    // 700 points of 1,024 dimensions: a bottom layer of 2.9 MB, past the 2 MB from which it is asked for in huge pages.
    const vectors = unitVectors(700, 1024);
    const index = new hnswlib.HierarchicalNSW('cosine', 1024);
    index.initIndex(600, 12, 40, 100);
    vectors.slice(0, 600).forEach((vector, label) => index.addPoint(vector, label));
    index.resizeIndex(700);
    vectors.slice(600).forEach((vector, label) => index.addPoint(vector, 600 + label));
    const file = path.join(temp, 'huge.hnsw');
    index.writeIndexSync(file);
    const read = new hnswlib.HierarchicalNSW('cosine', 1024);
    await read.readIndex(file);
    expect(read.getCurrentCount()).toBe(700);
    for (const label of [0, 599, 600, 699]) {
      const query = vectors[label] ?? new Float32Array(1024);
      expect(read.searchKnn(query, 3)).toEqual(index.searchKnn(query, 3));
      expect(read.searchKnn(query, 1).neighbors).toEqual([label]);
    }
  });

  it('refuses a point of the wrong length or type with a clear error', () => {
    const index = new hnswlib.HierarchicalNSW('cosine', 8);
    index.initIndex(10);
    expect(() => index.addPoint(new Float32Array(7), 0)).toThrow('expected 8, but got 7');
    expect(() => index.addPoint(new Float64Array(8) as unknown as Float32Array, 0)).toThrow(
      'must be an Array or a Float32Array',
    );
  });
});

describe('VectorIndex', () => {
  it.each([1, 3])('builds %i shard(s) in worker threads and finds each passage nearest to itself', async (shards) => {
    const vectors = unitVectors(300, 16);
    const fileOf = (shard: number) => path.join(temp, `${shards}-${shard}.hnsw`);
    const builder = new VectorIndexBuilder(16, vectors.length, fileOf, DEFAULTS.vectors, { shards, parallel: shards });
    for (const vector of vectors) builder.add(vector);
    await builder.finish();
    const files = Array.from({ length: shards }, (_shard, index) => fileOf(index));
    const embeddings = new FixedEmbeddings();
    const index = await VectorIndex.load(files, 16, embeddings);
    expect(index.size).toBe(300);
    expect(index.dimensions).toBe(16);
    for (const ordinal of [0, 1, 2, 17, 150, 299]) {
      embeddings.vector = Array.from(vectors[ordinal] ?? []);
      const hits = await index.query('any', 5);
      expect(hits[0]?.ordinal).toBe(ordinal);
      expect(hits[0]?.similarity).toBeCloseTo(1, 5);
      expect(hits).toHaveLength(5);
      expect(hits.map((hit) => hit.similarity)).toEqual([...hits.map((hit) => hit.similarity)].sort((a, b) => b - a));
    }
    const everything = await index.query('any', 1000);
    expect(new Set(everything.map((hit) => hit.ordinal)).size).toBe(300);
  });

  it('names the shard file that cannot be read', async () => {
    await expect(VectorIndex.load([path.join(temp, 'absent.hnsw')], 16, new FixedEmbeddings())).rejects.toMatchObject({
      file: path.join(temp, 'absent.hnsw'),
    });
  });

  it('reads each shard once its check accepts it, and none its check refuses', async () => {
    const vectors = unitVectors(40, 16);
    const fileOf = (shard: number) => path.join(temp, `checked-${shard}.hnsw`);
    const builder = new VectorIndexBuilder(16, vectors.length, fileOf, DEFAULTS.vectors, { shards: 2, parallel: 2 });
    for (const vector of vectors) builder.add(vector);
    await builder.finish();
    const checked: string[] = [];
    const index = await VectorIndex.load([fileOf(0), fileOf(1)], 16, new FixedEmbeddings(), async (file) => {
      checked.push(file);
      await Promise.resolve();
    });
    expect(checked).toEqual([fileOf(0), fileOf(1)]);
    expect(index.size).toBe(40);

    // The second file is not a graph: its check's refusal is the error, not what hnswlib's reader would say of it.
    const notAGraph = path.join(temp, 'not-a-graph.hnsw');
    await writeFile(notAGraph, 'not a graph');
    const refusal = new Error('damaged');
    await expect(
      VectorIndex.load([fileOf(0), notAGraph], 16, new FixedEmbeddings(), (file) =>
        file === notAGraph ? Promise.reject(refusal) : Promise.resolve(),
      ),
    ).rejects.toBe(refusal);
  });

  it('builds in waves, writing each wave before the next grows, and finds every passage across them', async () => {
    const vectors = unitVectors(300, 16);
    const fileOf = (shard: number) => path.join(temp, `waves-${shard}.hnsw`);
    // Three waves of 100 passages, each two shards of 50.
    const builder = new VectorIndexBuilder(16, vectors.length, fileOf, DEFAULTS.vectors, { shards: 6, parallel: 2 });
    for (const vector of vectors.slice(0, 101)) builder.add(vector);
    await builder.drained();
    await expect(Promise.all([access(fileOf(0)), access(fileOf(1))])).resolves.toBeDefined();
    await expect(access(fileOf(2))).rejects.toThrow();
    for (const vector of vectors.slice(101)) builder.add(vector);
    const checksums = await builder.finish();
    expect(builder.shardCount).toBe(6);
    // Each graph's checksum, taken by its thread, is that of the file written, for the manifest.
    const written = Array.from({ length: 6 }, (_shard, shard) => fileOf(shard));
    expect(checksums).toEqual(
      Object.fromEntries(
        await Promise.all(written.map(async (file) => [path.basename(file), await fileChecksum(file)])),
      ),
    );
    const embeddings = new FixedEmbeddings();
    const index = await VectorIndex.load(
      Array.from({ length: 6 }, (_shard, shard) => fileOf(shard)),
      16,
      embeddings,
    );
    expect(index.size).toBe(300);
    for (let ordinal = 0; ordinal < 300; ordinal += 1) {
      embeddings.vector = Array.from(vectors[ordinal] ?? []);
      expect((await index.query('any', 1))[0]?.ordinal).toBe(ordinal);
    }
  });

  it('gives a large corpus several shards, bounded by the cores and by the memory of a wave', () => {
    const cores = os.availableParallelism();
    expect(shardPlan(1_000, 1024)).toEqual({ shards: 1, parallel: 1 });
    const parallel = Math.min(3, cores, DEFAULTS.vectors.parallelShards);
    expect(shardPlan(100_000, 1024)).toEqual({ shards: parallel, parallel });
    for (const passages of [1_000_000, 10_000_000]) {
      const plan = shardPlan(passages, 1024);
      expect(plan.parallel).toBe(Math.min(cores, DEFAULTS.vectors.parallelShards));
      expect(plan.shards % plan.parallel).toBe(0);
      // A wave's graphs (their vectors at least) fit in the build's memory.
      const wave = Math.ceil(passages / plan.shards) * plan.parallel;
      expect(wave * 1024 * 4).toBeLessThanOrEqual(DEFAULTS.vectors.buildMemoryMb * 2 ** 20);
      expect(plan.shards).toBeGreaterThan(plan.parallel);
    }
  });
});
