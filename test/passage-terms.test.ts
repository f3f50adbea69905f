import { describe, expect, it } from 'vitest';
import { termsOfPassage } from '../core/answer/find-passages.js';
import { textTerms } from '../core/answer/relevance.js';
import { quoteOf } from '../core/text/analyze.js';
import type { Chunk } from '../core/types.js';

const TEXT = 'Les ministres renforcent la défense. The ministers are running drills.';
const [FRENCH_END, ENGLISH_START] = [TEXT.indexOf('.') + 1, TEXT.indexOf('The')];

/** A passage of a document at `offset`, its sentences in document offsets: a French one, then an English one. */
function passage(id: string, offset: number, text = TEXT): Chunk {
  return {
    id,
    source: 'notes.txt',
    title: 'Notes',
    section: ['Défense'],
    language: 'fr',
    start: offset,
    end: offset + text.length,
    text,
    sentences: [
      { start: offset, end: offset + FRENCH_END, kind: 'paragraph', language: 'fr' },
      { start: offset + ENGLISH_START, end: offset + text.length, kind: 'paragraph', language: 'en' },
    ],
  };
}

describe('the terms of a passage', () => {
  it('analyses each sentence in its own language, and holds all their terms as the passage’s', () => {
    const terms = termsOfPassage(passage('p', 100));
    expect(terms.sentences.map((sentence) => sentence.quote)).toEqual([
      'Les ministres renforcent la défense.',
      'The ministers are running drills.',
    ]);
    const [french, english] = terms.sentences;
    expect(french?.text.terms).toEqual(textTerms('Les ministres renforcent la défense.', 'fr'));
    // English stemming: « running » is « run », which French stemming would not give.
    expect(english?.text.terms.stems.has('run')).toBe(true);
    expect(textTerms('running', 'fr').stems.has('run')).toBe(false);
    for (const sentence of terms.sentences) {
      for (const stem of sentence.text.terms.stems) expect(terms.text.terms.stems.has(stem)).toBe(true);
      for (const word of sentence.text.terms.words) expect(terms.text.terms.words.has(word)).toBe(true);
    }
    expect(terms.text.folded).toBe('les ministres renforcent la defense. the ministers are running drills.');
    expect(terms.context.label.words.has('defense')).toBe(true);
  });

  it('names a sentence the same in every passage that holds it, and only that sentence so', () => {
    const first = termsOfPassage(passage('a', 0));
    // The next passage starts at the English sentence of the first: they overlap by that sentence.
    const next = passage('b', ENGLISH_START, TEXT.slice(ENGLISH_START));
    next.sentences = [{ start: ENGLISH_START, end: TEXT.length, kind: 'paragraph', language: 'en' }];
    const second = termsOfPassage(next);
    expect(quoteOf(next, next.sentences[0]!)).toBe('The ministers are running drills.');
    expect(second.sentences[0]?.key).toBe(first.sentences[1]?.key);
    expect(second.sentences[0]?.key).not.toBe(first.sentences[0]?.key);
  });
});
