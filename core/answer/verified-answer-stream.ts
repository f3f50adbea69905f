import type { Language } from '../types.js';
import { renumberMarkers } from './verify-citations.js';

/** An opening bracket that may still become a marker: `[`, `[1`, `[1,` at the very end of the text. */
const PARTIAL_MARKER = /\s*\[[\d,\s]*$/;

/**
 * Follows a generated answer as the model writes it and releases, piece by piece, the part of its verified form
 * (`verifyCitations`) that more text can no longer change: the sentences the model has finished, with their markers
 * checked and renumbered, and the words of the sentence it is writing. A client that shows only released pieces
 * therefore shows the final answer growing, never text that verification later rewrites.
 *
 * Nothing is released before the first marker that names a passage, because an answer that cites nothing is
 * replaced by the extractive one; nor once the text holds the not-found sentinel, which turns it into a refusal.
 */
export class VerifiedAnswerStream {
  private text = '';
  private releasedText = '';

  constructor(
    private readonly passageCount: number,
    private readonly language: Language,
    private readonly notFoundSentinel: string,
  ) {}

  /** Everything released so far: a prefix of the verified answer, unless the answer is later replaced. */
  get released(): string {
    return this.releasedText;
  }

  /** Takes the next piece of the model's text; returns the newly released part of the verified answer, or ''. */
  push(piece: string): string {
    this.text += piece;
    if (this.text.includes(this.notFoundSentinel)) return '';
    const { sentences, numbering } = renumberMarkers(this.text, this.passageCount, this.language);
    if (numbering.size === 0) return '';
    const last = sentences.at(-1);
    // The sentence being written may still gain markers at its end: only its claim so far is certain.
    const growing = (last?.claim ?? '').replace(PARTIAL_MARKER, '').trimEnd();
    const finished = sentences.slice(0, -1).map((sentence) => sentence.written);
    const certain = [...finished, ...(growing === '' ? [] : [growing])].join(' ');
    // Sentence boundaries can move while a sentence is being written (an abbreviation's full stop): release only
    // what extends what was released.
    if (!certain.startsWith(this.releasedText) || certain.length === this.releasedText.length) return '';
    const fresh = certain.slice(this.releasedText.length);
    this.releasedText = certain;
    return fresh;
  }
}
