import { describe, expect, it } from 'vitest';
import { splitParagraphs, splitSentences, splitTextIntoSentences } from '../core/text/split-sentences.js';
import type { Language } from '../core/types.js';

function sentencesOf(text: string, language: Language = 'fr'): string[] {
  return splitTextIntoSentences(text, language)
    .flat()
    .map((span) => text.slice(span.start, span.end));
}

describe('splitTextIntoSentences', () => {
  it('keeps « M. Rutte » and other abbreviations inside their sentence', () => {
    const text = 'Il a parlé. M. Rutte a répondu. Le Dr. Smith et Mme. Dupont sont venus. J. R. Tolkien écrit.';
    expect(sentencesOf(text)).toEqual([
      'Il a parlé.',
      'M. Rutte a répondu.',
      'Le Dr. Smith et Mme. Dupont sont venus.',
      'J. R. Tolkien écrit.',
    ]);
  });

  it('keeps French quotations and elisions whole', () => {
    const text = "Il a déclaré que « l'OTAN traiterait ces questions ». Qu'en pense-t-on ? D'autres l'ignorent !";
    expect(sentencesOf(text)).toEqual([
      "Il a déclaré que « l'OTAN traiterait ces questions ».",
      "Qu'en pense-t-on ?",
      "D'autres l'ignorent !",
    ]);
  });

  it('splits English text too', () => {
    expect(sentencesOf('Mr. Smith arrived. He left at 5 p.m. on Monday? Yes.', 'en')).toEqual([
      'Mr. Smith arrived.',
      'He left at 5 p.m. on Monday?',
      'Yes.',
    ]);
  });

  it('returns spans whose slices are trimmed sentences, across empty lines and CRLF', () => {
    const text = '\r\n\r\n  Première phrase.  Deuxième phrase.\r\n\r\n\r\nTroisième\r\nphrase repliée.  \r\n';
    const spans = splitTextIntoSentences(text, 'fr').flat();
    for (const span of spans) {
      const slice = text.slice(span.start, span.end);
      expect(slice).toBe(slice.trim());
      expect(slice.length).toBeGreaterThan(0);
    }
    expect(spans.map((span) => text.slice(span.start, span.end))).toEqual([
      'Première phrase.',
      'Deuxième phrase.',
      'Troisième\r\nphrase repliée.',
    ]);
  });
});

describe('splitParagraphs', () => {
  it('treats each line as a paragraph when the text has no blank line', () => {
    const text = 'Titre\nPremier paragraphe. Suite.\nSecond paragraphe.';
    expect(splitParagraphs(text).map((span) => text.slice(span.start, span.end))).toEqual([
      'Titre',
      'Premier paragraphe. Suite.',
      'Second paragraphe.',
    ]);
  });

  it('splits at blank lines and Markdown blocks, joining wrapped lines', () => {
    const text = '# Title\nIntro line one\ncontinues here.\n\n- item one\n- item two\n\nLast paragraph.';
    expect(splitParagraphs(text).map((span) => text.slice(span.start, span.end))).toEqual([
      '# Title',
      'Intro line one\ncontinues here.',
      '- item one',
      '- item two',
      'Last paragraph.',
    ]);
  });

  it('gives no sentence for a blank paragraph', () => {
    expect(splitSentences('   ', { start: 0, end: 3 }, 'fr')).toEqual([]);
  });
});
