import { DEFAULTS } from '../defaults.js';
import { contextText } from '../section-title.js';
import {
  analyze,
  analyzeQuestion,
  analyzeSentences,
  indexTerm,
  quoteOf,
  sentenceWords,
  words,
} from '../text/analyze.js';
import type { Chunk, Language } from '../types.js';
import { decodeSections, encodeSections } from './binary-sections.js';
import { boundedEditDistance, GramIndex } from './fuzzy-terms.js';

/**
 * BM25 keyword search over the passages, in compact typed arrays.
 *
 * Passages are analysed with the stemmer of their own language; a question, whose language may differ from the
 * documents', is searched with its French and English stems together. Scoring is MiniSearch's (BM25+, k 1.2, b 0.7,
 * d 0.5; a term of five letters or more also matches terms within an edit for every five letters, weighted
 * 0.5 × length / (length + distance); a passage's score is multiplied by the number of question terms it matches),
 * which this index replaced: MiniSearch keeps postings in maps of objects, parses its whole JSON at start-up and
 * builds an object for every matching passage of every question, which at 100k passages cost seconds to load,
 * hundreds of MB and tens of ms per question. Here postings are arrays of passage numbers and term frequencies,
 * read from disk without parsing, and a question touches only numbers.
 */
export interface KeywordHit {
  /** Position of the passage in the index (its chunk number). */
  ordinal: number;
  score: number;
}

/** Terms of one passage, by field. */
export type FieldTerms = readonly (readonly string[])[];

interface Field {
  name: string;
  boost: number;
}

/**
 * The fields a passage is indexed under, with their weight in the score: its sentences, and its context (section
 * path and document title), which says what it is about but less than its own words. The first field's document
 * frequencies are the corpus statistics of relevance.
 */
export const KEYWORD_FIELDS: readonly Field[] = [
  { name: 'text', boost: 1 },
  { name: 'context', boost: 0.5 },
];

const FORMAT = 'keyword-index-v1';

/** A passage as the keyword index reads it. */
export type KeywordChunk = Pick<Chunk, 'text' | 'start' | 'sentences' | 'language' | 'title' | 'section'>;

/** The index terms of a passage, by field, as `KeywordIndexBuilder.add` takes them: each sentence in its language. */
export function keywordTerms(chunk: KeywordChunk): FieldTerms {
  return [analyzeSentences(chunk), analyze(contextText(chunk), chunk.language)];
}

/** Words of a text in one language, whose index terms are `termsOf(words, language)`. */
export interface WordRun {
  words: readonly string[];
  language: Language;
}

/** A passage's words by field, as `TermNumbering.appendCounted` takes them: each field's terms are its runs' terms. */
export type FieldWords = readonly (readonly WordRun[])[];

/**
 * The words of a passage by field, whose terms are `keywordTerms` (each sentence's words in its language), and the
 * words of what the embedder reads of it (`embeddedText`: its context, then its text, as `words` gives them), reading
 * each word of the passage once: a thread that analyses passages for the keyword index and the lexical embedder
 * hands both the same words.
 */
export function analysePassage(chunk: KeywordChunk): { fields: FieldWords; words: string[] } {
  const contextWords = words(contextText(chunk));
  const split = sentenceWords(chunk);
  const sentences = chunk.sentences.map((sentence, index): WordRun => ({
    words: split?.bySentence[index] ?? words(quoteOf(chunk, sentence)),
    language: sentence.language,
  }));
  return {
    fields: [sentences, [{ words: contextWords, language: chunk.language }]],
    words: [...contextWords, ...(split?.all ?? words(chunk.text))],
  };
}

/** Numbers terms 0, 1, 2… in the order they are first given. */
class TermIds {
  private readonly ids = new Map<string, number>();
  /** The terms, in the order of their numbers. */
  readonly terms: string[] = [];

  idOf(term: string): number {
    let id = this.ids.get(term);
    if (id === undefined) {
      id = this.terms.length;
      this.ids.set(term, id);
      this.terms.push(term);
    }
    return id;
  }
}

/** `array`'s elements copied to the start of `larger`, which is returned. */
function grownInto<T extends Int32Array | Uint32Array | Uint16Array | Uint8Array>(array: T, larger: T): T {
  larger.set(array);
  return larger;
}

/** Distinct words whose term's number a `TermNumbering` keeps. */
const MAX_NUMBERED_WORDS = 500_000;

/**
 * Numbers terms as the thread that analyses passages meets them, so that passages reach the thread that builds the
 * index as numbers (`appendCounted`), and each term's text only once (`takeNew`, gathered by that thread in the
 * order it was given): `KeywordIndexBuilder.addNumbered` takes both.
 */
export class TermNumbering {
  private readonly numbers = new TermIds();
  /** Terms numbered before this one were taken by `takeNew`. */
  private taken = 0;
  /** Per number, its count in the field being counted: valid where `stamps` holds the field's stamp. */
  private counts = new Uint32Array(1 << 12);
  private stamps = new Uint32Array(1 << 12);
  private stamp = 0;

  /** Per language, the number of the term of each word met so far (-1 for a word that is no term). */
  private readonly wordNumbers: Record<Language, Map<string, number>> = { fr: new Map(), en: new Map() };

  /**
   * Appends the terms of a passage's words (`analysePassage`) to `into`, field by field: how many distinct terms,
   * then each one's number and count, in the order first met.
   */
  appendCounted(fields: FieldWords, into: number[]): void {
    for (const runs of fields) {
      this.stamp += 1;
      const met: number[] = [];
      for (const { words: runWords, language } of runs) {
        for (const word of runWords) {
          const number = this.numberOfWord(word, language);
          if (number < 0) continue;
          if (this.stamps[number] !== this.stamp) {
            this.stamps[number] = this.stamp;
            this.counts[number] = 0;
            met.push(number);
          }
          this.counts[number] = (this.counts[number] ?? 0) + 1;
        }
      }
      into.push(met.length);
      for (const number of met) into.push(number, this.counts[number] ?? 0);
    }
  }

  /**
   * The number of a word's term: one lookup for a word met before, where its term (stemmed, then numbered) would be
   * two. The term itself is not remembered besides its number.
   */
  private numberOfWord(word: string, language: Language): number {
    const known = this.wordNumbers[language];
    let number = known.get(word);
    if (number === undefined) {
      const term = indexTerm(word, language);
      number = term === null ? -1 : this.numberOf(term);
      // A bound on memory for corpora of unusual vocabulary: start again rather than grow without end.
      if (known.size >= MAX_NUMBERED_WORDS) known.clear();
      known.set(word, number);
    }
    return number;
  }

  private numberOf(term: string): number {
    const number = this.numbers.idOf(term);
    if (number === this.counts.length) {
      this.counts = grownInto(this.counts, new Uint32Array(number * 2));
      this.stamps = grownInto(this.stamps, new Uint32Array(number * 2));
    }
    return number;
  }

  /** The terms numbered since the last call, in the order of their numbers. */
  takeNew(): string[] {
    const { terms } = this.numbers;
    const fresh = terms.slice(this.taken);
    this.taken = terms.length;
    return fresh;
  }
}

/**
 * Collects the terms of passages one at a time (memory grows with the postings, not with the text) and lays them out
 * as a `KeywordIndex`.
 */
export class KeywordIndexBuilder {
  private readonly termIds = new TermIds();
  /** For each `TermNumbering` passages came from, the id here of each of its numbers (-1 until met here). */
  private readonly numberings = new Map<number, Int32Array>();
  /** One entry per (passage, field, distinct term): the term and its frequency. */
  private entryTerms = new Uint32Array(1 << 16);
  private entryCounts = new Uint16Array(1 << 16);
  private entryFields = new Uint8Array(1 << 16);
  private entries = 0;
  private fieldLengths: number[] = [];
  private documents = 0;

  constructor(private readonly fields: readonly Field[] = KEYWORD_FIELDS) {}

  get size(): number {
    return this.documents;
  }

  /** Adds the next passage; its ordinal is the number of passages added before it. */
  add(fieldTerms: FieldTerms): void {
    this.fields.forEach((_field, fieldIndex) => {
      const counts = new Map<number, number>();
      for (const term of fieldTerms[fieldIndex] ?? []) {
        const id = this.termIds.idOf(term);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      this.fieldLengths.push(counts.size);
      for (const [term, count] of counts) this.push(term, Math.min(count, 0xffff), fieldIndex);
    });
    this.documents += 1;
  }

  /**
   * Adds the next passages as a `TermNumbering` wrote them (`counted`): `numbering` says which one, as several threads
   * number terms each their own way, and `terms` are the terms it numbered, in the order of their numbers (those of
   * these passages at least). Ids are given here in the order terms are first met, as `add` gives them. Returns the
   * passages added.
   */
  addNumbered(numbering: number, terms: readonly string[], counted: ArrayLike<number>): number {
    let ids = this.numberings.get(numbering) ?? new Int32Array(0);
    if (ids.length < terms.length) {
      ids = grownInto(ids, new Int32Array(Math.max(terms.length, ids.length * 2)).fill(-1));
      this.numberings.set(numbering, ids);
    }
    let added = 0;
    for (let offset = 0; offset < counted.length; added += 1) {
      for (let fieldIndex = 0; fieldIndex < this.fields.length; fieldIndex += 1) {
        const distinct = counted[offset] ?? 0;
        offset += 1;
        this.fieldLengths.push(distinct);
        for (let index = 0; index < distinct; index += 1, offset += 2) {
          const number = counted[offset] ?? 0;
          let id = ids[number] ?? -1;
          if (id < 0) {
            const term = terms[number];
            if (term === undefined) throw new Error(`term number ${number} of numbering ${numbering} is unknown`);
            id = this.termIds.idOf(term);
            ids[number] = id;
          }
          this.push(id, Math.min(counted[offset + 1] ?? 0, 0xffff), fieldIndex);
        }
      }
      this.documents += 1;
    }
    return added;
  }

  private push(term: number, count: number, field: number): void {
    if (this.entries === this.entryTerms.length) {
      const size = this.entryTerms.length * 2;
      this.entryTerms = grownInto(this.entryTerms, new Uint32Array(size));
      this.entryCounts = grownInto(this.entryCounts, new Uint16Array(size));
      this.entryFields = grownInto(this.entryFields, new Uint8Array(size));
    }
    this.entryTerms[this.entries] = term;
    this.entryCounts[this.entries] = count;
    this.entryFields[this.entries] = field;
    this.entries += 1;
  }

  /** Sorts the postings by term (passages stay in order within a term) and returns the searchable index. */
  build(): KeywordIndex {
    const fieldCount = this.fields.length;
    const slots = this.termIds.terms.length * fieldCount;
    const postingStart = new Uint32Array(slots + 1);
    for (let entry = 0; entry < this.entries; entry += 1) {
      const slot = (this.entryTerms[entry] ?? 0) * fieldCount + (this.entryFields[entry] ?? 0);
      postingStart[slot + 1] = (postingStart[slot + 1] ?? 0) + 1;
    }
    for (let slot = 0; slot < slots; slot += 1)
      postingStart[slot + 1] = (postingStart[slot + 1] ?? 0) + (postingStart[slot] ?? 0);
    const next = postingStart.slice(0, slots);
    const postingDocuments = new Uint32Array(this.entries);
    const postingCounts = new Uint16Array(this.entries);
    // Entries were added passage after passage: walking them in order keeps each posting list sorted by passage.
    let document = 0;
    let fieldsSeen = 0;
    let remaining = this.fieldLengths[0] ?? 0;
    for (let entry = 0; entry < this.entries; entry += 1) {
      while (remaining === 0) {
        fieldsSeen += 1;
        document = Math.floor(fieldsSeen / fieldCount);
        remaining = this.fieldLengths[fieldsSeen] ?? 0;
      }
      const slot = (this.entryTerms[entry] ?? 0) * fieldCount + (this.entryFields[entry] ?? 0);
      const position = next[slot] ?? 0;
      next[slot] = position + 1;
      postingDocuments[position] = document;
      postingCounts[position] = this.entryCounts[entry] ?? 0;
      remaining -= 1;
    }
    const lengths = new Uint16Array(this.fieldLengths.map((length) => Math.min(length, 0xffff)));
    const averages = this.fields.map((_field, fieldIndex) => {
      let total = 0;
      for (let doc = 0; doc < this.documents; doc += 1) total += lengths[doc * fieldCount + fieldIndex] ?? 0;
      return this.documents === 0 ? 0 : total / this.documents;
    });
    return new KeywordIndex({
      fields: this.fields,
      averageLengths: averages,
      documentCount: this.documents,
      terms: this.termIds.terms,
      postingStart,
      postingDocuments,
      postingCounts,
      fieldLengths: lengths,
      grams: GramIndex.build(this.termIds.terms),
    });
  }
}

/** The laid-out index, as another store (a database) copies it: terms, postings by term and field, letter pairs. */
export interface KeywordIndexParts {
  fields: readonly Field[];
  averageLengths: readonly number[];
  documentCount: number;
  terms: readonly string[];
  /** Per (term × fields + field): where its postings start; one more entry closes the last. */
  postingStart: Uint32Array;
  postingDocuments: Uint32Array;
  postingCounts: Uint16Array;
  /** Distinct terms of each (passage × fields + field). */
  fieldLengths: Uint16Array;
  grams: GramIndex;
}

export class KeywordIndex {
  private readonly termIds: Map<string, number>;
  /** Fuzzy expansions kept per question term: questions share most of their words. */
  private readonly expansions = new Map<string, Array<[number, number]>>();
  /** Per-question scratch space, reused: scores, matched-term counts and the last term that touched a passage. */
  private readonly scores: Float64Array;
  private readonly matched: Uint16Array;
  private readonly lastTerm: Int32Array;

  constructor(private readonly parts: KeywordIndexParts) {
    this.termIds = new Map(parts.terms.map((term, id) => [term, id]));
    this.scores = new Float64Array(parts.documentCount);
    this.matched = new Uint16Array(parts.documentCount);
    this.lastTerm = new Int32Array(parts.documentCount).fill(-1);
  }

  /** Builds the index of passages held in memory (tests and small corpora; ingest streams through the builder). */
  static build(chunks: readonly KeywordChunk[]): KeywordIndex {
    const builder = new KeywordIndexBuilder();
    for (const chunk of chunks) builder.add(keywordTerms(chunk));
    return builder.build();
  }

  /** Restores an index from `toBuffer()` output; throws an Error when the bytes are not one. */
  static fromBuffer(bytes: Buffer): KeywordIndex {
    const { header, sections } = decodeSections(bytes);
    if (header['format'] !== FORMAT) throw new Error(`not a ${FORMAT} file`);
    const section = <T>(name: string, type: new (...args: never[]) => T): T => {
      const value = sections.get(name);
      if (!(value instanceof type)) throw new Error(`section ${name} is missing`);
      return value;
    };
    const termBytes = section('terms', Uint8Array);
    const termText = Buffer.from(termBytes.buffer, termBytes.byteOffset, termBytes.byteLength).toString('utf8');
    const terms = termText === '' ? [] : termText.split('\n');
    const fields = header['fields'] as Field[];
    const documentCount = Number(header['documentCount']);
    const postingStart = section('postingStart', Uint32Array);
    if (postingStart.length !== terms.length * fields.length + 1) throw new Error('postings do not match the terms');
    return new KeywordIndex({
      fields,
      averageLengths: header['averageLengths'] as number[],
      documentCount,
      terms,
      postingStart,
      postingDocuments: section('postingDocuments', Uint32Array),
      postingCounts: section('postingCounts', Uint16Array),
      fieldLengths: section('fieldLengths', Uint16Array),
      grams: GramIndex.fromSections(
        section('gramKeys', Uint32Array),
        section('gramStart', Uint32Array),
        section('gramTerms', Uint32Array),
        terms,
      ),
    });
  }

  toBuffer(): Buffer {
    const { parts } = this;
    return encodeSections(
      {
        format: FORMAT,
        fields: parts.fields,
        averageLengths: parts.averageLengths,
        documentCount: parts.documentCount,
      },
      {
        terms: Buffer.from(parts.terms.join('\n')),
        postingStart: parts.postingStart,
        postingDocuments: parts.postingDocuments,
        postingCounts: parts.postingCounts,
        fieldLengths: parts.fieldLengths,
        ...parts.grams.sections(),
      },
    );
  }

  get size(): number {
    return this.parts.documentCount;
  }

  /** The arrays the index is made of, read-only: what a database store writes as rows. */
  get layout(): Readonly<KeywordIndexParts> {
    return this.parts;
  }

  /** Passages of the primary field holding a term: the corpus statistics of relevance scoring. */
  documentFrequency(term: string): number {
    const id = this.termIds.get(term);
    if (id === undefined) return 0;
    const slot = id * this.parts.fields.length;
    return (this.parts.postingStart[slot + 1] ?? 0) - (this.parts.postingStart[slot] ?? 0);
  }

  /** The best passages for a question, by BM25 score. */
  query(question: string, limit: number): KeywordHit[] {
    const terms = [...new Set(analyzeQuestion(question).flatMap((term) => term.stems))];
    if (terms.length === 0 || limit <= 0) return [];
    const { k, b, d } = DEFAULTS.keyword.bm25;
    const { parts, scores, matched, lastTerm } = this;
    const fieldCount = parts.fields.length;
    const touched: number[] = [];
    terms.forEach((term, termIndex) => {
      for (const [termId, weight] of this.derivedTerms(term)) {
        parts.fields.forEach((field, fieldIndex) => {
          const slot = termId * fieldCount + fieldIndex;
          const start = parts.postingStart[slot] ?? 0;
          const end = parts.postingStart[slot + 1] ?? 0;
          const frequency = end - start;
          if (frequency === 0) return;
          const idf = Math.log(1 + (parts.documentCount - frequency + 0.5) / (frequency + 0.5));
          const average = parts.averageLengths[fieldIndex] ?? 1;
          const factor = weight * field.boost * idf;
          for (let posting = start; posting < end; posting += 1) {
            const document = parts.postingDocuments[posting] ?? 0;
            const count = parts.postingCounts[posting] ?? 0;
            const length = parts.fieldLengths[document * fieldCount + fieldIndex] ?? 0;
            const score = factor * (d + (count * (k + 1)) / (count + k * (1 - b + (b * length) / average)));
            if (lastTerm[document] === -1) touched.push(document);
            if (lastTerm[document] !== termIndex) {
              lastTerm[document] = termIndex;
              matched[document] = (matched[document] ?? 0) + 1;
            }
            scores[document] = (scores[document] ?? 0) + score;
          }
        });
      }
    });
    const hits = topHits(touched, scores, matched, limit);
    for (const document of touched) {
      scores[document] = 0;
      matched[document] = 0;
      lastTerm[document] = -1;
    }
    return hits;
  }

  /**
   * The index terms a question term matches, with their weights: itself (1) if indexed, and for a term of five
   * letters or more every term within an edit for every five letters, weighted by how far it is.
   */
  private derivedTerms(term: string): Array<[number, number]> {
    let derived = this.expansions.get(term);
    if (derived !== undefined) return derived;
    derived = [];
    const exact = this.termIds.get(term);
    if (exact !== undefined) derived.push([exact, 1]);
    const maxDistance = allowedEdits(term);
    if (maxDistance > 0) {
      for (const candidate of this.parts.grams.candidates(term, maxDistance)) {
        if (candidate === exact) continue;
        const weight = fuzzyMatchWeight(term, this.parts.terms[candidate] ?? '', maxDistance);
        if (weight !== undefined) derived.push([candidate, weight]);
      }
    }
    if (this.expansions.size >= DEFAULTS.caches.fuzzyExpansions) this.expansions.clear();
    this.expansions.set(term, derived);
    return derived;
  }
}

/** Edits a question term may be from an index term that it matches: none below `fuzzyMinLength` letters. */
export function allowedEdits(term: string): number {
  const { fuzzy, fuzzyMinLength, maxFuzzy } = DEFAULTS.keyword;
  return term.length < fuzzyMinLength ? 0 : Math.min(maxFuzzy, Math.round(term.length * fuzzy));
}

/**
 * The weight of an index term `other` as a fuzzy match of a question term, or undefined when it is not one (the same
 * term, or more than `maxDistance` edits away): 0.5 × length / (length + distance).
 */
export function fuzzyMatchWeight(term: string, other: string, maxDistance: number): number | undefined {
  const distance = boundedEditDistance(term, other, maxDistance);
  if (distance === 0 || distance > maxDistance) return undefined;
  return (DEFAULTS.keyword.fuzzyWeight * other.length) / (other.length + distance);
}

/**
 * The `limit` passages of highest score × matched terms, best first; ties go to the passage met first, as
 * MiniSearch's stable sort of its result map does.
 */
function topHits(touched: readonly number[], scores: Float64Array, matched: Uint16Array, limit: number): KeywordHit[] {
  const best: KeywordHit[] = [];
  let floor = -Infinity;
  for (const document of touched) {
    const score = (scores[document] ?? 0) * (matched[document] ?? 1);
    if (best.length === limit && score <= floor) continue;
    let position = best.length;
    while (position > 0 && (best[position - 1]?.score ?? 0) < score) position -= 1;
    best.splice(position, 0, { ordinal: document, score });
    if (best.length > limit) best.pop();
    floor = best.length === limit ? (best.at(-1)?.score ?? -Infinity) : -Infinity;
  }
  return best;
}
