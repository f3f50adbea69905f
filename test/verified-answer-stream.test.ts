import { describe, expect, it } from 'vitest';
import { VerifiedAnswerStream } from '../core/answer/verified-answer-stream.js';
import { renumberMarkers } from '../core/answer/verify-citations.js';
import type { Language } from '../core/types.js';
import { seededRandom } from '../scripts/lib/seeded-random.js';

const SENTINEL = 'NOT_IN_DOCUMENTS';

/** Model outputs in the forms models write them; passage count 4. */
const OUTPUTS: Array<{ text: string; language: Language; why: string }> = [
  { text: 'Le commandement est à Wiesbaden [2]. Il forme les soldats [3].', language: 'fr', why: 'plain markers' },
  { text: 'Le commandement est à Wiesbaden. [2] Il forme les soldats. [3]', language: 'fr', why: 'after the stop' },
  { text: 'NATO [4] met in Brussels [1, 3] on Tuesday.', language: 'en', why: 'mid-sentence, grouped' },
  { text: 'M. Rutte a parlé [1]. La Russie [9] menace [2][1].', language: 'fr', why: 'abbreviation, invented [9]' },
  { text: 'First claim cites nothing. Then [3] one does. And a third.', language: 'en', why: 'uncited sentences' },
  { text: 'Line one [1].\n\nLine two\n[2]', language: 'en', why: 'paragraphs, marker on its own line' },
];

/** Feeds a text to a stream in pieces of random length; returns what each piece released. */
function feed(text: string, language: Language, random: () => number): string[] {
  const stream = new VerifiedAnswerStream(4, language, SENTINEL);
  const released: string[] = [];
  let at = 0;
  while (at < text.length) {
    const size = 1 + Math.floor(random() * 6);
    released.push(stream.push(text.slice(at, at + size)));
    at += size;
  }
  return released;
}

describe('VerifiedAnswerStream', () => {
  it('releases only what begins the verified answer, however the text is cut into tokens', () => {
    const random = seededRandom(7);
    for (const { text, language, why } of OUTPUTS) {
      const final = renumberMarkers(text, 4, language)
        .sentences.map((sentence) => sentence.written)
        .join(' ');
      for (let round = 0; round < 50; round += 1) {
        const released = feed(text, language, random).join('');
        expect(final.startsWith(released), `${why}: ${JSON.stringify(released)}`).toBe(true);
        // Everything up to the last sentence's claim is out before the model's text ends.
        expect(released.length, why).toBeGreaterThan(final.length / 2);
      }
    }
  });

  it('releases the answer as it grows, with markers renumbered in order of appearance', () => {
    const stream = new VerifiedAnswerStream(4, 'fr', SENTINEL);
    const pieces = ['Le commandement ', 'est à ', 'Wiesbaden ', '[3', ']', '. Il ', 'forme ', 'les soldats [', '2].'];
    const released = pieces.map((piece) => stream.push(piece));
    expect(released.join('')).toBe('Le commandement est à Wiesbaden. [1] Il forme les soldats.');
    // Nothing before the first marker; then word by word, the marker once its sentence is over.
    expect(released.slice(0, 4)).toEqual(['', '', '', '']);
    expect(released[4]).toBe('Le commandement est à Wiesbaden');
    expect(released[6]).toBe(' forme');
  });

  it('releases nothing from an answer that cites no passage, or that says the documents do not answer', () => {
    const uncited = new VerifiedAnswerStream(4, 'en', SENTINEL);
    expect(['It is in Wiesbaden. ', 'It trains ', 'soldiers [7].'].map((piece) => uncited.push(piece))).toEqual([
      '',
      '',
      '',
    ]);
    const refusal = new VerifiedAnswerStream(4, 'en', SENTINEL);
    expect(refusal.push('Maybe [1] ')).toBe('Maybe');
    expect(refusal.push(`${SENTINEL} and more`)).toBe('');
    expect(refusal.released).toBe('Maybe');
  });
});
