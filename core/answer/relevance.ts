import { DEFAULTS } from '../defaults.js';
import {
  analyzeQuestion,
  compounds,
  containsIdentifier,
  foldText,
  foldWord,
  identifiers,
  isContentWord,
  type QueryTerm,
  stem,
  words,
} from '../text/analyze.js';
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
    const form = foldWord(word);
    if (!isContentWord(form)) continue;
    folded.add(form);
    stems.add(stem(word, language));
  }
  return { words: folded, stems };
}

/** Where document frequencies come from when the passages are not in memory: the index's own counts. */
export interface CorpusFrequencies {
  readonly chunkCount: number;
  documentFrequency(stem: string): number;
}

/** Document frequencies of stems over the passages, for inverse-document-frequency weights. */
export class TermStatistics {
  private readonly frequency: (stem: string) => number;
  private readonly count: number;
  private readonly maxWeight: number;
  /** Each question word's weight, which every coverage of the question asks for again. */
  private readonly weights = new WeakMap<QueryTerm, number>();

  /**
   * From the terms of every passage, or from an index that counts them (no pass over the passages).
   * `unknownWeight` is the weight of a word no passage uses, as a fraction of the rarest word's.
   */
  constructor(
    source: readonly TextTerms[] | CorpusFrequencies,
    private readonly unknownWeight = 1,
  ) {
    if (isCorpusFrequencies(source)) {
      this.frequency = (stem) => source.documentFrequency(stem);
      this.count = source.chunkCount;
    } else {
      const counts = new Map<string, number>();
      for (const passage of source) {
        for (const term of passage.stems) counts.set(term, (counts.get(term) ?? 0) + 1);
      }
      this.frequency = (stem) => counts.get(stem) ?? 0;
      this.count = source.length;
    }
    this.maxWeight = this.idf(1);
  }

  /** Whether some passage uses the word (under one of its stems). */
  isKnown(term: QueryTerm): boolean {
    return term.stems.some((candidate) => this.frequency(candidate) > 0);
  }

  /**
   * The weight of a word relative to the rarest word of the corpus, from 0 to 1: near 1 for a word a handful of
   * passages use, which is what a question is about.
   */
  rarity(term: QueryTerm): number {
    return this.maxWeight <= 0 ? 0 : this.weight(term) / this.maxWeight;
  }

  /**
   * BM25's inverse document frequency of a question word. A word the corpus never uses weighs `unknownWeight` of its
   * rarest word: unknown to the corpus is no stronger evidence than unique in it, and may be a rewording of a word
   * it does use.
   */
  weight(term: QueryTerm): number {
    let weight = this.weights.get(term);
    if (weight === undefined) {
      let frequency = 0;
      for (const candidate of term.stems) frequency = Math.max(frequency, this.frequency(candidate));
      weight = frequency === 0 ? this.unknownWeight * this.maxWeight : this.idf(frequency);
      this.weights.set(term, weight);
    }
    return weight;
  }

  private idf(frequency: number): number {
    return Math.log(1 + (this.count - frequency + 0.5) / (frequency + 0.5));
  }
}

/** How well a text matches one question word: 1 for the same stem, less for a cognate, 0 for none. */
export function termMatch(term: QueryTerm, terms: TextTerms): number {
  // A passage's label is often empty (a document without headings): nothing to match, nor to remember.
  if (terms.words.size === 0) return 0;
  if (terms.words.has(term.word)) return 1;
  for (const candidate of term.stems) if (terms.stems.has(candidate)) return 1;
  // The best cognate of a word in a text is kept with the text's terms (themselves kept while in use): questions
  // come back to the same passages with the same words, and comparing a word with every word of a text is costly.
  let known = cognateMatches.get(terms);
  if (known === undefined) cognateMatches.set(terms, (known = new Map()));
  let best = known.get(term.word);
  if (best === undefined) {
    best = 0;
    for (const word of terms.words) best = Math.max(best, cognateSimilarity(term.word, word));
    known.set(term.word, best);
  }
  return best;
}

const cognateMatches = new WeakMap<TextTerms, Map<string, number>>();

function isCorpusFrequencies(source: readonly TextTerms[] | CorpusFrequencies): source is CorpusFrequencies {
  return !Array.isArray(source);
}

/**
 * What a passage is under: the label right above it (a heading, an FAQ question, a defined term), which it
 * answers, and the outer labels and document title, which only place it.
 */
export interface PassageContext {
  label: TextTerms;
  outer: TextTerms;
}

/**
 * Weighted share of the question's words that a text covers, from 0 to 1. A word found in the label the text is
 * under counts as if the text said it (the text under « Comment trouver les paquets cassés ? » answers it); a word
 * found only in outer labels or the title counts `contextWeight` of that.
 */
export function coverage(
  question: readonly QueryTerm[],
  terms: TextTerms,
  statistics: TermStatistics,
  context?: PassageContext,
  contextWeight = 0,
): number {
  let total = 0;
  let covered = 0;
  for (const term of question) {
    const weight = statistics.weight(term);
    total += weight;
    let match = termMatch(term, terms);
    if (context !== undefined && match < 1) {
      match = Math.max(match, termMatch(term, context.label), contextWeight * termMatch(term, context.outer));
    }
    covered += weight * match;
  }
  return total === 0 ? 0 : covered / total;
}

/**
 * What a question is about, beyond its wording: the identifiers it names (options, paths, versions), its
 * distinctive words (those few passages of the corpus use) and the names it capitalises that the corpus never uses.
 * A passage is evidence only if it, its section path or its document title holds all of them: a sentence about
 * `No-New-Installs` does not answer a question about `--no-install-recommends`, one about aptitude a question about
 * synaptic, nor one about Debian a question about Ubuntu.
 */
export interface QuestionFocus {
  identifiers: string[];
  /** Hyphenated compounds (`systemd-nspawn`); like unknown names, they count only in the question's language. */
  compounds: string[];
  distinctive: QueryTerm[];
  /**
   * Capitalised words no passage uses. They count only for a passage in the question's language: across languages
   * a name changes its spelling (Korea, Corée) and cognates do not always bridge it.
   */
  unknownNames: QueryTerm[];
}

/**
 * The focus of a question: its identifiers, its known words of at least `minRarity` (see `rarity`), and the
 * capitalised words after its first that no passage uses (a name the documents do not know).
 */
export function questionFocus(
  question: string,
  terms: readonly QueryTerm[],
  statistics: TermStatistics,
  minRarity: number,
): QuestionFocus {
  const names = new Set(
    (question.match(/[\p{L}\p{N}]+/gu) ?? [])
      .slice(1)
      .filter((word) => /^\p{Lu}/u.test(word))
      .map(foldText),
  );
  // A compound of a word the corpus knows and one it does not (`systemd-nspawn`) names a thing, in any language;
  // one of two unknown words may just be the other language's (`command-line` over a French manual).
  const known = (part: string) => analyzeQuestion(part).some((term) => statistics.isKnown(term));
  const [named, plain] = partition(compounds(question), (compound) => {
    const parts = compound.split('-');
    return parts.some(known) && !parts.every(known);
  });
  return {
    identifiers: [...identifiers(question), ...named],
    compounds: plain,
    distinctive: terms.filter((term) => statistics.isKnown(term) && statistics.rarity(term) >= minRarity),
    unknownNames: terms.filter((term) => !statistics.isKnown(term) && names.has(term.word)),
  };
}

/** A text as the focus test reads it: its terms and its folded characters. */
export interface FocusText {
  terms: TextTerms;
  folded: string;
}

/**
 * A text for the focus test, folded only when the test reads its characters: most questions name no identifier or
 * compound, and folding every retrieved passage and sentence was a fifth of the time of an answer.
 */
export function focusText(terms: TextTerms, text: string): FocusText {
  let folded: string | undefined;
  return {
    terms,
    get folded() {
      folded ??= foldText(text);
      return folded;
    },
  };
}

/**
 * Whether a text, or its context, holds every identifier and distinctive word of the question, and, when it is in
 * the question's language, its unknown names (which no passage holds: such a question is not answered).
 */
export function holdsFocus(focus: QuestionFocus, text: FocusText, context: FocusText, sameLanguage: boolean): boolean {
  for (const identifier of focus.identifiers) {
    if (!containsIdentifier(text.folded, identifier) && !containsIdentifier(context.folded, identifier)) return false;
  }
  if (sameLanguage) {
    if (focus.unknownNames.length > 0) return false;
    for (const compound of focus.compounds) {
      if (!containsIdentifier(text.folded, compound) && !containsIdentifier(context.folded, compound)) return false;
    }
  }
  return focus.distinctive.every(
    (term) => termMatch(term, text.terms) >= FOCUS_MATCH || termMatch(term, context.terms) >= FOCUS_MATCH,
  );
}

/** A distinctive word counts as held from this match on (a close cognate holds it). */
const FOCUS_MATCH = 0.5;

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

function cognateForm(word: string): CognateForm {
  let form = cognateForms.get(word);
  if (form === undefined) {
    const text = word.replace(/k/g, 'c');
    form = { text, reversed: [...text].reverse().join(''), trigrams: trigrams(text) };
    // Questions bring words of their own; past the bound, start again rather than grow without end.
    if (cognateForms.size >= DEFAULTS.caches.cognateForms) cognateForms.clear();
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

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))];
}
