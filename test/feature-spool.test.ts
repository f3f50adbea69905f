import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FeatureRecords, featureRecords } from '../core/embeddings/lexical-features.js';
import { FeatureSpool } from '../ingest/feature-spool.js';

let folder: string | undefined;
afterEach(async () => {
  if (folder !== undefined) await rm(folder, { recursive: true, force: true });
});

describe('FeatureSpool', () => {
  it('gives back every record in order, across the blocks it reads, one of them larger than a block', async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'feature-spool-'));
    const spool = await FeatureSpool.create(path.join(folder, 'features.bin'));
    let seed = 1;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const written: number[][] = [];
    const records = new FeatureRecords();
    for (let index = 0; index < 3_000; index += 1) {
      // Mostly passages of a few hundred features; one of 400,000 words (1.6 MB), more than a block of 1 MB.
      const length = index === 1_234 ? 400_000 : next() % 700;
      const record = Array.from({ length }, () => next());
      records.begin();
      for (const word of record) records.push(word);
      records.end();
      written.push(record);
      // Records are added a file's worth at a time, as the split stage hands them over.
      if (next() % 7 === 0) await spool.add(records.take());
    }
    await spool.add(records.take());
    const read: number[][] = [];
    for await (const record of spool.records()) read.push(Array.from(record));
    expect(read.length).toBe(written.length);
    expect(read).toEqual(written);
    await spool.remove();
    expect(await readdir(folder)).toEqual([]);
  });

  it('reads records as FeatureRecords.take lays them out', () => {
    const records = new FeatureRecords();
    for (const words of [[1, 2, 3], [], [4]]) {
      records.begin();
      for (const word of words) records.push(word);
      records.end();
    }
    expect([...featureRecords(records.take())].map((record) => Array.from(record))).toEqual([[1, 2, 3], [], [4]]);
    expect(() => [...featureRecords(Uint32Array.from([5, 1, 2]))]).toThrow(/past its end/);
  });
});
