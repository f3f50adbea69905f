import { foldText, isContentWord, type QueryTerm, stem, words } from '../text/analyze.js';
import type { Language } from '../types.js';

/**
 * How much of a question a piece of text covers: the share of the question's content words, weighted by how rare
 * they are in the corpus, that the text contains as the same stem or as a close cognate (Russia/Russie,
 * cyberattacks/cyberattaques). It is the evidence both for refusing and for choosing the sentences of an answer.
 */

/** The content words of a text, folded, and their stems in the text's language. */
export interface TextTerms {
  words: ReadonlySet<string>;
  stems: ReadonlySet<string>;
}

export function textTerms(text: string, language: Language): TextTerms {
  const folded = new Set<string>();
  const stems = new Set<string>();
  for (const word of words(text)) {
    const form = foldText(word);
    if (!isContentWord(form)) continue;
    folded.add(form);
    stems.add(stem(word, language));
  }
  return { words: folded, stems };
}

/** Document frequencies of stems over the passages, for inverse-document-frequency weights. */
export class TermStatistics {
  private readonly frequency = new Map<string, number>();
  private readonly count: number;
  private readonly maxWeight: number;

  constructor(passages: readonly TextTerms[]) {
    for (const passage of passages) {
      for (const term of passage.stems) this.frequency.set(term, (this.frequency.get(term) ?? 0) + 1);
    }
    this.count = passages.length;
    this.maxWeight = this.idf(1);
  }

  /**
   * BM25's inverse document frequency of a question word. A word the corpus never uses weighs as much as its
   * rarest word: unknown to the corpus is no stronger evidence than unique in it.
   */
  weight(term: QueryTerm): number {
    const frequency = Math.max(0, ...term.stems.map((candidate) => this.frequency.get(candidate) ?? 0));
    return frequency === 0 ? this.maxWeight : this.idf(frequency);
  }

  private idf(frequency: number): number {
    return Math.log(1 + (this.count - frequency + 0.5) / (frequency + 0.5));
  }
}

/** How well a text matches one question word: 1 for the same stem, less for a cognate, 0 for none. */
export function termMatch(term: QueryTerm, terms: TextTerms): number {
  if (terms.words.has(term.word) || term.stems.some((candidate) => terms.stems.has(candidate))) return 1;
  let best = 0;
  for (const word of terms.words) best = Math.max(best, cognateSimilarity(term.word, word));
  return best;
}

/** Weighted share of the question's words that a text covers, from 0 to 1. */
export function coverage(question: readonly QueryTerm[], terms: TextTerms, statistics: TermStatistics): number {
  let total = 0;
  let covered = 0;
  for (const term of question) {
    const weight = statistics.weight(term);
    total += weight;
    covered += weight * termMatch(term, terms);
  }
  return total === 0 ? 0 : covered / total;
}

const COGNATE_SCORE = 0.8;
const MIN_SHARED_PREFIX = 4;
const MIN_PREFIX_SHARE = 0.6;
const MIN_TRIGRAM_DICE = 0.5;
const MAX_REVERSED_ACRONYM = 5;

/**
 * Similarity of two folded words that may be the same word in French and English: a long shared prefix
 * (russia/russie, nuclear/nucleaire), or many shared letter trigrams (measures/mesures).
 */
export function cognateSimilarity(left: string, right: string): number {
  const a = cognateForm(left);
  const b = cognateForm(right);
  let prefix = 0;
  while (prefix < a.text.length && prefix < b.text.length && a.text[prefix] === b.text[prefix]) prefix += 1;
  if (prefix >= MIN_SHARED_PREFIX && prefix >= MIN_PREFIX_SHARE * Math.min(a.text.length, b.text.length)) {
    return COGNATE_SCORE;
  }
  // French acronyms often reverse the English ones: NATO/OTAN, EU/UE.
  if (a.text.length <= MAX_REVERSED_ACRONYM && a.text.length === b.text.length && a.text === b.reversed) {
    return COGNATE_SCORE;
  }
  const dice = trigramDice(a.trigrams, b.trigrams);
  return dice >= MIN_TRIGRAM_DICE ? dice * COGNATE_SCORE : 0;
}

interface CognateForm {
  text: string;
  reversed: string;
  trigrams: ReadonlySet<string>;
}

/** Forms are computed once per word: the vocabulary of a corpus is small, and every question meets it again. */
const cognateForms = new Map<string, CognateForm>();
const MAX_CACHED_FORMS = 100_000;

function cognateForm(word: string): CognateForm {
  let form = cognateForms.get(word);
  if (form === undefined) {
    const text = word.replace(/k/g, 'c');
    form = { text, reversed: [...text].reverse().join(''), trigrams: trigrams(text) };
    // Questions bring words of their own; past the bound, start again rather than grow without end.
    if (cognateForms.size >= MAX_CACHED_FORMS) cognateForms.clear();
    cognateForms.set(word, form);
  }
  return form;
}

function trigramDice(left: ReadonlySet<string>, right: ReadonlySet<string>): number {
  if (left.size === 0 || right.size === 0) return 0;
  let shared = 0;
  for (const gram of left) if (right.has(gram)) shared += 1;
  return (2 * shared) / (left.size + right.size);
}

function trigrams(word: string): Set<string> {
  const grams = new Set<string>();
  for (let index = 0; index + 3 <= word.length; index += 1) grams.add(word.slice(index, index + 3));
  return grams;
}
