import { DEFAULTS } from '../defaults.js';
import { foldText, isContentWord, words } from '../text/analyze.js';

/**
 * The features of the lexical embedder (`lexical-embeddings.ts`), apart from its fitted weights: each content word of
 * a text as a whole (`w:<word>`) and the character n-grams of `_<word>_`, hashed (FNV-1a) into buckets with a sign.
 * Counting them is most of the cost of embedding a passage; an ingest counts them once per passage, in the thread
 * that split it, and keeps them as records (`FeatureRecords`) until the weights are fitted.
 */

export interface LexicalFeatureSettings {
  dimensions: number;
  minNgram?: number;
  maxNgram?: number;
  wordWeight?: number;
}

/** Counts the features of texts, remembering those of each word met. */
export class LexicalFeatures {
  readonly dimensions: number;
  readonly minNgram: number;
  readonly maxNgram: number;
  readonly wordWeight: number;
  private readonly features = new FeatureCounter();
  /** The features of each word met so far: most words of a corpus come back, so each is hashed once. */
  private readonly wordFeatures = new Map<string, WordFeatures | null>();
  /** The number of the text being counted, and its distinct words (their features) in the order first met. */
  private text = 0;
  private readonly distinct: WordFeatures[] = [];

  constructor(settings: LexicalFeatureSettings) {
    this.dimensions = settings.dimensions;
    this.minNgram = settings.minNgram ?? DEFAULTS.lexicalEmbeddings.minNgram;
    this.maxNgram = settings.maxNgram ?? DEFAULTS.lexicalEmbeddings.maxNgram;
    this.wordWeight = settings.wordWeight ?? DEFAULTS.lexicalEmbeddings.wordWeight;
    if (this.dimensions > MAX_RECORDED_DIMENSIONS) {
      throw new Error(`features are recorded for at most ${MAX_RECORDED_DIMENSIONS} dimensions`);
    }
  }

  /**
   * Appends the features of a text to `records`, as one record (see `FeatureRecords`): each distinct feature in the
   * order first met, with its bucket, its sign, whether it is a whole word, and its count.
   */
  append(text: string, records: FeatureRecords): void {
    this.appendWords(words(text), records);
  }

  /**
   * `append` of a text given as its words (`words` of it), for a caller that has them already. A word repeated in
   * the text is counted once with its number of times: its features are counted in the same order and the same
   * numbers, since the distinct words are taken in the order first met.
   */
  appendWords(textWords: readonly string[], records: FeatureRecords): void {
    const counter = this.features;
    counter.clear();
    this.text += 1;
    const distinct = this.distinct;
    distinct.length = 0;
    for (const word of textWords) {
      const features = this.wordFeaturesOf(word);
      if (features === null) continue;
      if (features.text === this.text) features.times += 1;
      else {
        features.text = this.text;
        features.times = 1;
        distinct.push(features);
      }
    }
    for (const { codes, recorded, times } of distinct) {
      counter.reserve(codes.length);
      for (let index = 0; index < codes.length; index += 1) {
        counter.add(codes[index] ?? 0, recorded[index] ?? 0, times);
      }
    }
    counter.record(records);
  }

  private wordFeaturesOf(word: string): WordFeatures | null {
    let features = this.wordFeatures.get(word);
    if (features !== undefined) return features;
    const folded = foldText(word);
    features = isContentWord(folded) ? this.computeFeatures(folded) : null;
    // A bound on memory for corpora of unusual vocabulary: start again rather than grow without end.
    if (this.wordFeatures.size >= MAX_CACHED_WORDS) this.wordFeatures.clear();
    this.wordFeatures.set(word, features);
    return features;
  }

  /**
   * The word feature `w:<word>` and the n-grams of `_<word>_`, each as its FNV-1a hash and how a record writes it.
   * The hashes of the n-grams starting at one offset are extended one letter at a time, rather than hashing each
   * slice anew.
   */
  private computeFeatures(folded: string): WordFeatures {
    const codes: number[] = [];
    const recorded: number[] = [];
    const push = (code: number, signCode: number, whole: boolean) => {
      codes.push(code | 0);
      // The bucket × 4, plus 2 for a whole word and 1 when it counts negatively (see `FeatureRecords`).
      recorded.push(
        ((code >>> 0) % this.dimensions) * 4 + (whole && this.wordWeight !== 1 ? 2 : 0) + (signCode & 1 ? 0 : 1),
      );
    };
    push(hash(folded, hash('w:')), hash(folded, hash('w:', SIGN_SEED)), true);
    const padded = `_${folded}_`;
    for (let offset = 0; offset < padded.length; offset += 1) {
      let code = FNV_OFFSET;
      let signCode = SIGN_SEED;
      for (let size = 1; size <= this.maxNgram && offset + size <= padded.length; size += 1) {
        const unit = padded.charCodeAt(offset + size - 1);
        code = Math.imul(code ^ unit, FNV_PRIME);
        signCode = Math.imul(signCode ^ unit, FNV_PRIME);
        if (size >= this.minNgram) push(code, signCode >>> 0, false);
      }
    }
    return { codes: Int32Array.from(codes), recorded: Uint16Array.from(recorded), text: 0, times: 0 };
  }
}

/** Distinct words whose features are kept. */
const MAX_CACHED_WORDS = 500_000;

interface WordFeatures {
  /** FNV-1a hash of each feature (as a signed 32-bit integer): its bucket is the hash modulo the dimensions. */
  codes: Int32Array;
  /** Each feature's low 16 bits of a record: its bucket and flags. */
  recorded: Uint16Array;
  /** The number of the last text the word was met in (`LexicalFeatures.appendWords`), and how many times. */
  text: number;
  times: number;
}

/**
 * Counts the features of one text by hash, in an open-addressing table that is cleared between texts by a
 * generation stamp. A feature is known by its 32-bit hash: two features of one text with the same hash (about one
 * pair in a billion) fall in the same bucket anyway and are counted together.
 */
class FeatureCounter {
  private shift = 20;
  private codes = new Int32Array(1 << 12);
  private counts = new Uint32Array(1 << 12);
  private recorded = new Uint16Array(1 << 12);
  private stamps = new Uint32Array(1 << 12);
  private stamp = 1;
  /** The slots used, in the order their features were first met. */
  private used = new Uint32Array(1 << 11);
  private size = 0;

  clear(): void {
    this.stamp += 1;
    if (this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
    this.size = 0;
  }

  /** Makes room for `features` more distinct features. */
  reserve(features: number): void {
    while ((this.size + features) * 2 >= this.codes.length) this.grow();
  }

  /**
   * Counts a feature `count` times: its hash, and the low 16 bits of its record (see `FeatureRecords`). Room must
   * have been reserved for it.
   */
  add(code: number, recorded: number, count: number): void {
    const { codes, stamps } = this;
    const mask = codes.length - 1;
    let slot = Math.imul(code, 0x9e3779b1) >>> this.shift;
    while (stamps[slot] === this.stamp) {
      if (codes[slot] === code) {
        this.counts[slot] = (this.counts[slot] ?? 0) + count;
        return;
      }
      slot = (slot + 1) & mask;
    }
    stamps[slot] = this.stamp;
    codes[slot] = code;
    this.counts[slot] = count;
    this.recorded[slot] = recorded;
    this.used[this.size] = slot;
    this.size += 1;
  }

  /** Appends the features counted to `records` as one record, in the order first met. */
  record(records: FeatureRecords): void {
    records.begin();
    for (let index = 0; index < this.size; index += 1) {
      const slot = this.used[index] ?? 0;
      const count = this.counts[slot] ?? 0;
      const low = this.recorded[slot] ?? 0;
      if (count < 0xffff) records.push(count * 0x10000 + low);
      else {
        records.push(0xffff0000 + low);
        records.push(count);
      }
    }
    records.end();
  }

  /** Doubles the table, keeping what it counted and the order it was met in. */
  private grow(): void {
    const used = this.used.subarray(0, this.size);
    const entries = Array.from(used, (slot) => [
      this.codes[slot] ?? 0,
      this.recorded[slot] ?? 0,
      this.counts[slot] ?? 0,
    ]);
    const size = this.codes.length * 2;
    this.shift -= 1;
    this.codes = new Int32Array(size);
    this.counts = new Uint32Array(size);
    this.recorded = new Uint16Array(size);
    this.stamps = new Uint32Array(size);
    this.used = new Uint32Array(size / 2);
    this.stamp = 1;
    this.size = 0;
    for (const [code = 0, recorded = 0, count = 0] of entries) this.add(code, recorded, count);
  }
}

/** A bucket times 4, plus its two flags, fits the low 16 bits of a feature's word. */
const MAX_RECORDED_DIMENSIONS = 0x4000;

/**
 * The counted features of texts, one record per text, as 32-bit words: a record is its length in words, then each
 * distinct feature in the order first met, as one word — its bucket × 4, plus 2 for a whole-word feature and 1 when
 * it counts negatively, in the low 16 bits, and its count in the high 16 — followed by its full count when that is
 * 0xffff or more. An ingest counts a passage's features once, for the fit (`observeFeatures`) and for its vector
 * (`vectorOfFeatures`), and keeps them on disk in between: about 4 bytes per distinct feature of a passage.
 */
export class FeatureRecords {
  private words = new Uint32Array(1 << 12);
  private length = 0;
  private start = 0;
  private readonly starts: number[] = [];

  /** Records held. */
  get count(): number {
    return this.starts.length;
  }

  /** Starts the next record. */
  begin(): void {
    this.start = this.length;
    this.push(0);
  }

  push(word: number): void {
    if (this.length === this.words.length) {
      const grown = new Uint32Array(this.words.length * 2);
      grown.set(this.words);
      this.words = grown;
    }
    this.words[this.length] = word;
    this.length += 1;
  }

  /** Ends the record begun last, writing its length. */
  end(): void {
    this.words[this.start] = this.length - this.start - 1;
    this.starts.push(this.start);
  }

  /** The features of record `index` (a view, valid until the next change). */
  record(index: number): Uint32Array {
    const start = this.starts[index];
    if (start === undefined) throw new Error(`no feature record ${index}`);
    return this.words.subarray(start + 1, start + 1 + (this.words[start] ?? 0));
  }

  /** Every record so far, lengths included, as one array of its own; then starts again empty. */
  take(): Uint32Array {
    const taken = this.words.slice(0, this.length);
    this.clear();
    return taken;
  }

  clear(): void {
    this.length = 0;
    this.starts.length = 0;
  }
}

/** Each record of a run of records as `FeatureRecords.take` gives them (a view of each, in order). */
export function* featureRecords(words: Uint32Array): Generator<Uint32Array> {
  for (let start = 0; start < words.length;) {
    const length = words[start] ?? 0;
    if (start + 1 + length > words.length) throw new Error('a feature record runs past its end');
    yield words.subarray(start + 1, start + 1 + length);
    start += 1 + length;
  }
}

/** `1 + Math.log(count)` of the small counts most features have, computed once (the same numbers). */
const SUBLINEAR_COUNTS = Float64Array.from({ length: 256 }, (_value, count) => 1 + Math.log(count));

/**
 * The features of a record as bucket and sublinear signed weight (`weight × (1 + ln count)`), written into reused
 * arrays (grown when too short) and in the record's order; returns how many there are.
 */
export function decodeFeatures(record: Uint32Array, wordWeight: number, into: DecodedFeatures): number {
  if (into.buckets.length < record.length) {
    into.buckets = new Uint32Array(record.length);
    into.weights = new Float64Array(record.length);
  }
  const { buckets, weights } = into;
  let count = 0;
  for (let index = 0; index < record.length; index += 1) {
    const value = record[index] ?? 0;
    let times = value >>> 16;
    if (times === 0xffff) {
      index += 1;
      times = record[index] ?? 0;
    }
    const magnitude = value & 2 ? wordWeight : 1;
    const weight = value & 1 ? -magnitude : magnitude;
    buckets[count] = (value & 0xffff) >>> 2;
    weights[count] = weight * (times < SUBLINEAR_COUNTS.length ? (SUBLINEAR_COUNTS[times] ?? 0) : 1 + Math.log(times));
    count += 1;
  }
  return count;
}

/** Arrays `decodeFeatures` writes into, kept from one record to the next. */
export interface DecodedFeatures {
  buckets: Uint32Array;
  weights: Float64Array;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SIGN_SEED = 0x9747b28c;

/** 32-bit FNV-1a over UTF-16 code units, from `seed` (a previous hash extends it): the same on every platform. */
function hash(text: string, seed = FNV_OFFSET): number {
  let value = seed;
  for (let index = 0; index < text.length; index += 1) {
    value ^= text.charCodeAt(index);
    value = Math.imul(value, FNV_PRIME);
  }
  return value >>> 0;
}
