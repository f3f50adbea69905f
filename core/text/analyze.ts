import { stemmer as stemFrench } from '@orama/stemmers/french';
import { stemmer as stemEnglish } from '@orama/stemmers/english';
import { eng, fra } from 'stopword';
import { DEFAULTS } from '../defaults.js';
import type { Chunk, Language, Span } from '../types.js';

/**
 * Text analysis shared by the keyword index, the lexical embedder and the answerer:
 * lowercase, accent folding, elision splitting, stop words and light (Snowball) stemming, for French and English.
 */

/** Question words and elided forms the stock stop-word lists leave out. */
const EXTRA_STOP_WORDS = (
  'quoi quand comment pourquoi combien dont lequel laquelle lesquels lesquelles jusqu lorsqu puisqu ' +
  'quoiqu aujourd ceux celle celles celui tout tous toute toutes aussi ainsi elles ci la whom whose why does done ' +
  'its shall will may against every without within upon among whether although either neither cannot used ' +
  'when where which what who how'
).split(' ');

/**
 * Words that frame a question about the documents rather than ask about their content
 * ("what does the document say about …"): they carry no evidence that a passage answers.
 */
const FRAMING_WORDS = (
  'document documents texte textes text texts communique communiques article passage selon according ' +
  'say says dit disent dire mention mentions mentionne parle tell explain explique expliquer ' +
  // "What does X do / mean", « Que fait X », « À quoi sert X », « Que signifie X »: the question is X.
  'fait faire font sert servent servir signifie signifient mean means meaning'
).split(' ');

/** Lowercases and removes diacritics: « Défense » → « defense », « œuvre » → « oeuvre ». */
export function foldText(text: string): string {
  // Plain ASCII has no accent or ligature to fold: lowercasing is all there is to do.
  if (!NOT_ASCII.test(text)) return text.toLowerCase();
  return text
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/œ/g, 'oe')
    .replace(/æ/g, 'ae')
    .replace(/ß/g, 'ss');
}

const NOT_ASCII = /[\u0080-\uffff]/;

/** Folded forms of the words (and labels) met so far: texts repeat them, and folding is costly (NFD, a regex). */
const FOLDED_WORDS = new Map<string, string>();

/**
 * `foldText` of a lowercased word (as `words` gives them) or short text such as a section label, remembered when it
 * has anything else to fold.
 */
export function foldWord(word: string): string {
  // Plain ASCII has no accent or ligature to fold: lowercased, it is its own folded form, and takes no cache entry.
  if (!NOT_ASCII.test(word)) return word;
  let folded = FOLDED_WORDS.get(word);
  if (folded === undefined) {
    folded = foldText(word);
    if (FOLDED_WORDS.size >= DEFAULTS.caches.foldedWords) FOLDED_WORDS.clear();
    FOLDED_WORDS.set(word, folded);
  }
  return folded;
}

const STOP_WORDS = new Set([...fra, ...eng, ...EXTRA_STOP_WORDS].map(foldText));
const FRAMING = new Set(FRAMING_WORDS);

/** Lowercased words of a text, split at apostrophes and hyphens so that « l'OTAN » gives « l », « otan ». */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** True for a word that carries meaning: not a stop word, and not a lone letter. */
export function isContentWord(folded: string): boolean {
  if (STOP_WORDS.has(folded)) return false;
  return folded.length > 1 || /\d/.test(folded);
}

/** Stems a lowercased word with the language's Snowball stemmer, then folds accents. */
export function stem(word: string, language: Language): string {
  return foldText(language === 'fr' ? stemFrench(word) : stemEnglish(word));
}

/**
 * The index term of each word met so far, per language (null for a word that is not a content word): a corpus
 * repeats its words, and folding and stemming them is most of the cost of analysing a text.
 */
const TERM_CACHE: Record<Language, Map<string, string | null>> = { fr: new Map(), en: new Map() };
const MAX_CACHED_TERMS = 200_000;

/**
 * The index term of a lowercased word in a language, or null when it is not a content word, computed each time: for
 * a caller that remembers it (`TermNumbering`, which keeps its number); others call `termOf`.
 */
export function indexTerm(word: string, language: Language): string | null {
  return isContentWord(foldText(word)) ? stem(word, language) : null;
}

/** `indexTerm`, remembered. */
function termOf(word: string, language: Language): string | null {
  const cache = TERM_CACHE[language];
  let term = cache.get(word);
  if (term === undefined) {
    term = indexTerm(word, language);
    // Past the bound, start again rather than grow without end.
    if (cache.size >= MAX_CACHED_TERMS) cache.clear();
    cache.set(word, term);
  }
  return term;
}

/** The index terms of a text in a known language: content words, stemmed and folded. */
export function analyze(text: string, language: Language): string[] {
  return termsOf(words(text), language);
}

/** The index terms of a text given as its words (`words` of it). */
export function termsOf(textWords: readonly string[], language: Language): string[] {
  const terms: string[] = [];
  for (const word of textWords) {
    const term = termOf(word, language);
    if (term !== null) terms.push(term);
  }
  return terms;
}

/**
 * The words of a passage's text (as `words` gives them) and those of each of its sentences, from one pass over the
 * text; undefined when the words of a sentence might not be those of the text around it: a sentence boundary inside
 * a word, or a character whose lowercase depends on its neighbours or changes the text's length (Σ, İ).
 */
export function sentenceWords(
  chunk: Pick<Chunk, 'text' | 'start' | 'sentences'>,
): { all: string[]; bySentence: string[][] } | undefined {
  const { text, sentences } = chunk;
  if (text.includes('Σ') || text.includes('İ')) return undefined;
  const all: string[] = [];
  const bySentence = sentences.map((): string[] => []);
  let current = 0;
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) {
    const start = match.index;
    const end = start + match[0].length;
    while (current < sentences.length && (sentences[current]?.end ?? 0) - chunk.start <= start) current += 1;
    all.push(match[0]);
    const sentence = sentences[current];
    if (sentence === undefined) continue;
    const sentenceStart = sentence.start - chunk.start;
    if (start >= sentenceStart) {
      if (end > sentence.end - chunk.start) return undefined;
      bySentence[current]?.push(match[0]);
    } else if (end > sentenceStart) {
      return undefined;
    }
  }
  return { all, bySentence };
}

/** The index terms of a passage, each sentence analysed in its own language. */
export function analyzeSentences(chunk: Pick<Chunk, 'text' | 'start' | 'sentences'>): string[] {
  return chunk.sentences.flatMap((sentence) => analyze(quoteOf(chunk, sentence), sentence.language));
}

/** The text of a sentence (or any span) of a passage, the span in document offsets. */
export function quoteOf(chunk: Pick<Chunk, 'text' | 'start'>, span: Span): string {
  return chunk.text.slice(span.start - chunk.start, span.end - chunk.start);
}

/** A content word of a question, with its stems under each language, since a question may be in either. */
export interface QueryTerm {
  /** The folded word as written. */
  readonly word: string;
  readonly stems: readonly string[];
}

/**
 * The content words of a question, without framing words, each with its French and English stems.
 * Repeated words are kept once.
 */
export function analyzeQuestion(question: string): readonly QueryTerm[] {
  // Retrieval and the scoring of passages each analyse the question they are given, one after the other.
  if (lastQuestion?.question === question) return lastQuestion.terms;
  const seen = new Set<string>();
  const terms: QueryTerm[] = [];
  for (const word of words(question)) {
    const folded = foldWord(word);
    if (!isContentWord(folded) || FRAMING.has(folded) || seen.has(folded)) continue;
    seen.add(folded);
    // A content word's term is its stem: the cached form of `stem(word, language)`.
    const stems = [termOf(word, 'fr') ?? stem(word, 'fr'), termOf(word, 'en') ?? stem(word, 'en')];
    terms.push({ word: folded, stems: [...new Set(stems)] });
  }
  lastQuestion = { question, terms };
  return terms;
}

/** The question analysed last, and its terms. */
let lastQuestion: { question: string; terms: readonly QueryTerm[] } | undefined;

/**
 * The identifiers a question names, folded: options (`--purge`, `-Z`), paths (`/etc/apt/sources.list`), qualified
 * names (`Aptitude::Log`, `os.cpus()`), versions (`4.7.0`), CONSTANT_CASE and camelCase names, search terms
 * (`?garbage`). A passage that does not contain them verbatim is about something else: `--no-install-recommends` is
 * not `No-New-Installs`.
 */
export function identifiers(question: string): string[] {
  const found = new Set<string>();
  // A single letter a question quotes or names as a letter, flag, key or option: « c », 'h', "the flag h".
  for (const match of question.matchAll(SINGLE_LETTER)) found.add(foldText(match[1] ?? match[2] ?? ''));
  // Every form of identifier holds one of these marks, which most questions lack: the full pattern is costly.
  if (!IDENTIFIER_MARK.test(question)) return [...found];
  for (const match of question.matchAll(IDENTIFIER)) {
    const token = match[0].replace(/\(\)$/, '').replace(/[.,;:!]+$/, '');
    if (token.length >= 2 && /[\p{L}\p{N}]/u.test(token)) found.add(foldText(token));
  }
  return [...found];
}

const SINGLE_LETTER =
  /[«"'‘“]\s?([\p{L}\p{N}])\s?[»"'’”]|\b(?:lettre|letter|flag|indicateur|touche|key|option|caractere|caractère|character)\s+([\p{L}\p{N}])(?![\p{L}\p{N}'’])/giu;

/**
 * What every form of `IDENTIFIER` holds: a hyphen, dot, underscore, slash or colon, a search term's `?`, or a
 * camelCase turn.
 */
const IDENTIFIER_MARK = /[-._/:]|\?\p{Ll}|\p{Ll}\p{Lu}/u;

const IDENTIFIER =
  /(?<![\p{L}\p{N}])(?:--?[\p{L}\p{N}][\p{L}\p{N}_-]*|(?<=^|\s)\.\p{L}[\p{L}\p{N}]{1,5}(?![\p{L}\p{N}.])|\?[\p{Ll}][\p{L}-]+|\/?[\p{L}\p{N}_.-]*(?:::|\/|_)[\p{L}\p{N}_.:/-]*[\p{L}\p{N}]|[\p{L}\p{N}]+(?:\.[\p{L}\p{N}]+)+|\p{L}\p{Ll}+\p{Lu}[\p{L}\p{N}]*)/gu;

/**
 * The hyphenated compounds of content words a question names, folded (`systemd-nspawn`, `multi-arch`): like
 * identifiers, a passage in the question's language that answers about one names it whole. (« Peut-on », « a-t-il »
 * hold stop words or single letters, and are not compounds.)
 */
export function compounds(question: string): string[] {
  // Every compound holds a hyphen, which most questions lack.
  if (!question.includes('-')) return [];
  const found = new Set<string>();
  for (const match of question.matchAll(
    /(?<![\p{L}\p{N}-])\p{L}[\p{L}\p{N}]*(?:-\p{L}[\p{L}\p{N}]*)+(?![\p{L}\p{N}-])/gu,
  )) {
    const folded = foldText(match[0]);
    if (folded.split('-').every(isContentWord)) found.add(folded);
  }
  return [...found];
}

/** Whether a folded text contains a folded identifier as a whole (not inside a longer name). */
export function containsIdentifier(foldedText: string, identifier: string): boolean {
  let from = foldedText.indexOf(identifier);
  while (from !== -1) {
    const before = foldedText[from - 1] ?? ' ';
    const after = foldedText[from + identifier.length] ?? ' ';
    if (!/[\p{L}\p{N}_%$~@-]/u.test(before) && !/[\p{L}\p{N}_-]/u.test(after)) return true;
    from = foldedText.indexOf(identifier, from + 1);
  }
  return false;
}

/** Words both languages write once accents are folded: « à », « a » (has) and "a", « on » (one) and "on". */
const AMBIGUOUS = new Set(['a', 'on']);
const FRENCH_MARKERS = new Set(
  [
    ...fra.filter((word) => !eng.includes(word)),
    ...'quel quelle quels quelles quoi comment pourquoi quand combien sont ont'.split(' '),
  ]
    .map(foldText)
    .filter((word) => !AMBIGUOUS.has(word)),
);
const ENGLISH_MARKERS = new Set(
  [...eng.filter((word) => !fra.includes(word)), 'why', 'does', 'whom', 'whose']
    .map(foldText)
    .filter((word) => !AMBIGUOUS.has(word)),
);

/** The clues a text gives of its language: French and English function words, elisions and accents. */
export interface LanguageEvidence {
  french: number;
  english: number;
}

/** Each function word, folded, as a French (bit 1) or English (bit 2) one. */
const MARKERS = new Map<string, number>();
for (const word of FRENCH_MARKERS) MARKERS.set(word, 1);
for (const word of ENGLISH_MARKERS) MARKERS.set(word, (MARKERS.get(word) ?? 0) | 2);

/** Whether a lowercased word is a French (bit 1) or English (bit 2) function word. */
function markerOf(word: string): number {
  return MARKERS.get(foldWord(word)) ?? 0;
}

/**
 * The characters that are a clue of French (accents, guillemets), as a table of UTF-16 code units: those the pattern
 * matches, ignoring case, tested once each (no character outside the Basic Multilingual Plane matches it).
 */
const ACCENT_CLUES = (() => {
  const pattern = /[àâçéèêëîïôûùüÿœ«»]/iu;
  const clues = new Uint8Array(0x10000);
  for (let code = 0; code < clues.length; code += 1) {
    if ((code < 0xd800 || code > 0xdfff) && pattern.test(String.fromCharCode(code))) clues[code] = 1;
  }
  return clues;
})();

/**
 * Counts the clues of a text's language. Clues never span a line break, so the evidence of texts joined by line
 * breaks is the sum of theirs: a document's blocks are counted once for their own language and their document's.
 */
export function languageEvidence(text: string): LanguageEvidence {
  let french = 0;
  let english = 0;
  for (const word of words(text)) {
    const marker = markerOf(word);
    french += marker & 1;
    english += marker >> 1;
  }
  for (let index = 0; index < text.length; index += 1) {
    if (ACCENT_CLUES[text.charCodeAt(index)] === 1) french += 0.5;
  }
  // Elisions and possessives need an apostrophe, which most texts have few of.
  if (text.includes("'") || text.includes('’')) {
    french += (text.match(/\b(?:qu|[ldjmnst])['’]\p{L}/giu) ?? []).length;
    english += (text.match(/\p{L}['’]s\b/giu) ?? []).length;
  }
  return { french, english };
}

/**
 * The language clues point to: ties, and evidence of fewer than `minEvidence` clues, go to `fallback` (a bare name
 * such as « Wiesbaden » says nothing about the language, nor does a short label in a translated manual).
 */
export function languageOf(evidence: LanguageEvidence, fallback: Language = 'en', minEvidence = 0): Language {
  const { french, english } = evidence;
  if (french === english || french + english < minEvidence) return fallback;
  return french > english ? 'fr' : 'en';
}

/**
 * Guesses whether a text is French or English from its function words, elisions and accents.
 * Ties, and texts with less evidence than `minEvidence` clues, go to `fallback`: a bare name such as « Wiesbaden »
 * says nothing about the language, nor does a short label in a translated manual.
 */
export function detectLanguage(text: string, fallback: Language = 'en', minEvidence = 0): Language {
  return languageOf(languageEvidence(text), fallback, minEvidence);
}

/** The language of most of the characters of some spans (blocks, sentences); ties go to `fallback`. */
export function dominantLanguage(spans: ReadonlyArray<Span & { language: Language }>, fallback: Language): Language {
  let french = 0;
  let english = 0;
  for (const span of spans) {
    if (span.language === 'fr') french += span.end - span.start;
    else english += span.end - span.start;
  }
  return french === english ? fallback : french > english ? 'fr' : 'en';
}
