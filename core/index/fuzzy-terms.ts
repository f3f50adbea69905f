/**
 * Finding the index terms within a few edits of a question term without comparing it with every term: the terms
 * are indexed by their letter pairs (with start and end marks), and a term within `d` edits of another shares at
 * least (longer length + 1) − 2d of its pairs, since one edit changes at most two pairs. Counting shared pairs over
 * the pair lists of the question term leaves few candidates, each then checked with the real edit distance.
 */

const START = 0x02;
const END = 0x03;

/** The letter pairs of `\u0002term\u0003` as 32-bit keys, in order, repeats included. */
export function gramsOf(term: string): number[] {
  const grams: number[] = [];
  let previous = START;
  for (let index = 0; index <= term.length; index += 1) {
    const unit = index === term.length ? END : term.charCodeAt(index);
    grams.push(((previous << 16) | unit) >>> 0);
    previous = unit;
  }
  return grams;
}

export class GramIndex {
  /** Per question: how many pairs each term shares with it, reset after use. */
  private shared: Uint16Array;

  private constructor(
    /** Distinct pair keys, sorted. */
    private readonly keys: Uint32Array,
    /** Where each key's terms start in `terms`; one more entry closes the last. */
    private readonly start: Uint32Array,
    /** Term ids by pair, each list ascending. */
    private readonly terms: Uint32Array,
    private readonly lengths: Uint16Array,
  ) {
    this.shared = new Uint16Array(lengths.length);
  }

  static build(terms: readonly string[]): GramIndex {
    const byKey = new Map<number, number[]>();
    terms.forEach((term, id) => {
      for (const key of new Set(gramsOf(term))) {
        let list = byKey.get(key);
        if (list === undefined) byKey.set(key, (list = []));
        list.push(id);
      }
    });
    const keys = Uint32Array.from([...byKey.keys()]).sort();
    const start = new Uint32Array(keys.length + 1);
    const lists: number[] = [];
    keys.forEach((key, index) => {
      const list = byKey.get(key) ?? [];
      for (const id of list) lists.push(id);
      start[index + 1] = lists.length;
    });
    return new GramIndex(keys, start, Uint32Array.from(lists), lengthsOf(terms));
  }

  /** Restores an index from its sections, for the terms it was built on. */
  static fromSections(keys: Uint32Array, start: Uint32Array, ids: Uint32Array, terms: readonly string[]): GramIndex {
    if (start.length !== keys.length + 1 || (start.at(-1) ?? 0) !== ids.length) {
      throw new Error('the letter-pair index does not match its keys');
    }
    return new GramIndex(keys, start, ids, lengthsOf(terms));
  }

  /** What `fromSections` reads back. */
  sections(): { gramKeys: Uint32Array; gramStart: Uint32Array; gramTerms: Uint32Array } {
    return { gramKeys: this.keys, gramStart: this.start, gramTerms: this.terms };
  }

  /**
   * The fewest letter pairs a term within `maxDistance` edits of a term of `length` letters shares with it, whatever
   * its own length: a first cut of the candidates.
   */
  static minSharedPairs(length: number, maxDistance: number): number {
    return length + 1 - 2 * maxDistance;
  }

  /** Whether a term sharing `shared` letter pairs with another may be within `maxDistance` edits of it. */
  static mayBeWithin(length: number, otherLength: number, shared: number, maxDistance: number): boolean {
    const needed = Math.max(length, otherLength) + 1 - 2 * maxDistance;
    return Math.abs(length - otherLength) <= maxDistance && shared >= needed;
  }

  /** Ids of the terms that may be within `maxDistance` edits of `term` (a superset; check each). */
  candidates(term: string, maxDistance: number): number[] {
    const grams = gramsOf(term);
    const touched: number[] = [];
    const { shared } = this;
    for (const key of grams) {
      const position = this.find(key);
      if (position < 0) continue;
      for (let index = this.start[position] ?? 0; index < (this.start[position + 1] ?? 0); index += 1) {
        const id = this.terms[index] ?? 0;
        if (shared[id] === 0) touched.push(id);
        shared[id] = (shared[id] ?? 0) + 1;
      }
    }
    const result: number[] = [];
    for (const id of touched) {
      if (GramIndex.mayBeWithin(term.length, this.lengths[id] ?? 0, shared[id] ?? 0, maxDistance)) result.push(id);
      shared[id] = 0;
    }
    return result;
  }

  private find(key: number): number {
    let low = 0;
    let high = this.keys.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = this.keys[middle] ?? 0;
      if (value === key) return middle;
      if (value < key) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }
}

function lengthsOf(terms: readonly string[]): Uint16Array {
  return Uint16Array.from(terms, (term) => Math.min(term.length, 0xffff));
}

/** Levenshtein distance of two strings, or `maxDistance + 1` as soon as it is known to exceed `maxDistance`. */
export function boundedEditDistance(left: string, right: string, maxDistance: number): number {
  if (Math.abs(left.length - right.length) > maxDistance) return maxDistance + 1;
  let previous = Array.from({ length: right.length + 1 }, (_value, index) => index);
  for (let row = 1; row <= left.length; row += 1) {
    const current = [row];
    let rowMinimum = row;
    for (let column = 1; column <= right.length; column += 1) {
      const cost = left.charCodeAt(row - 1) === right.charCodeAt(column - 1) ? 0 : 1;
      const value = Math.min(
        (previous[column] ?? 0) + 1,
        (current[column - 1] ?? 0) + 1,
        (previous[column - 1] ?? 0) + cost,
      );
      current.push(value);
      rowMinimum = Math.min(rowMinimum, value);
    }
    if (rowMinimum > maxDistance) return maxDistance + 1;
    previous = current;
  }
  return previous[right.length] ?? maxDistance + 1;
}
