import { describe, expect, it } from 'vitest';
import { readAhead } from '../ingest/plan-ingest.js';

describe('readAhead', () => {
  it('yields in order however the work finishes, with at most `ahead` items started beyond the one consumed', async () => {
    const items = Array.from({ length: 40 }, (_item, index) => index);
    let running = 0;
    let most = 0;
    const work = async (item: number) => {
      running += 1;
      most = Math.max(most, running);
      // Later items often finish first, as a small file read by another thread does.
      await new Promise((resolve) => setTimeout(resolve, (item * 7) % 5));
      running -= 1;
      return item * 2;
    };
    for (const ahead of [1, 4]) {
      most = 0;
      const seen: Array<[number, number]> = [];
      let started = 0;
      for await (const pair of readAhead(items, (item) => ((started += 1), work(item)), ahead)) {
        // The consumer's own item is done; `ahead` more may have been started, no more.
        expect(started - seen.length).toBeLessThanOrEqual(ahead + 1);
        seen.push(pair);
      }
      expect(seen).toEqual(items.map((item) => [item, item * 2]));
      expect(most).toBe(ahead);
    }
  });

  it('starts no more while the results waiting for their turn weigh the bound, and still yields every item', async () => {
    const items = Array.from({ length: 12 }, (_item, index) => index);
    /** How many items had been consumed when each item was started. */
    const run = async (held?: { weigh: (result: number) => number; most: number }) => {
      const consumedAtStart: number[] = [];
      let consumed = 0;
      const work = async (item: number) => {
        consumedAtStart[item] = consumed;
        // The first item is slow; the others finish at once and wait for their turn.
        if (item === 0) await new Promise((resolve) => setTimeout(resolve, 30));
        return item;
      };
      const seen: number[] = [];
      for await (const [item] of readAhead(items, work, 8, held)) {
        seen.push(item);
        consumed += 1;
      }
      expect(seen).toEqual(items);
      return consumedAtStart;
    };
    // `ahead` alone: the ninth item starts as soon as the first is taken.
    expect((await run()).slice(0, 9)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Results weighing 10 each, 25 at most: items 1 to 7 wait with 70 together, so the ninth starts only when the
    // sixth is taken and two are left waiting.
    expect((await run({ weigh: () => 10, most: 25 })).slice(0, 9)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 5]);
  });

  it('throws the failure of an item in its turn, after the items before it', async () => {
    const seen: number[] = [];
    const run = async () => {
      for await (const [item] of readAhead(
        [0, 1, 2, 3],
        async (item) => {
          if (item === 2) throw new Error('item 2 failed');
          return item;
        },
        3,
      )) {
        seen.push(item);
      }
    };
    await expect(run()).rejects.toThrow('item 2 failed');
    expect(seen).toEqual([0, 1]);
  });
});
