import { createHash } from 'node:crypto';
import { splitParagraphs, splitSentences } from '../core/text/split-sentences.js';
import type { Chunk, SourceDocument, Span } from '../core/types.js';

export interface ChunkerSettings {
  targetChars: number;
  maxChars: number;
  overlapSentences: number;
}

/**
 * Cuts a document into passages made of whole sentences.
 * Short paragraphs are packed together up to `targetChars`; a longer paragraph is cut into windows of sentences
 * that repeat the last `overlapSentences` of the previous window. A chunk never mixes a cut paragraph with another.
 */
export function splitIntoChunks(document: SourceDocument, settings: ChunkerSettings): Chunk[] {
  const groups: Span[][] = [];
  let packed: Span[] = [];
  const packedLength = () => (packed.length === 0 ? 0 : spanLength(packed[0], packed.at(-1)));

  for (const paragraph of splitParagraphs(document.text)) {
    const sentences = splitSentences(document.text, paragraph, document.language);
    if (sentences.length === 0) continue;
    const length = paragraph.end - paragraph.start;
    const joinedLength = packed.length === 0 ? length : paragraph.end - (packed[0]?.start ?? paragraph.start);
    if (packed.length > 0 && joinedLength <= settings.targetChars) {
      packed.push(...sentences);
      continue;
    }
    if (packed.length > 0) groups.push(packed);
    packed = [];
    if (length <= settings.targetChars) {
      packed = [...sentences];
    } else {
      groups.push(...sentenceWindows(sentences, settings));
    }
  }
  if (packedLength() > 0) groups.push(packed);
  return withStableIds(document, groups);
}

/**
 * Consecutive windows of sentences of about `targetChars`, each repeating the tail of the one before.
 * A window is only closed once it holds more than the overlap, so that no window is contained in the next.
 */
function sentenceWindows(sentences: Span[], settings: ChunkerSettings): Span[][] {
  const windows: Span[][] = [];
  let window: Span[] = [];
  for (const sentence of sentences) {
    const first = window[0];
    if (first !== undefined && sentence.end - first.start > settings.targetChars) {
      if (window.length > settings.overlapSentences) {
        windows.push(window);
        window = settings.overlapSentences > 0 ? window.slice(-settings.overlapSentences) : [];
        const tail = window[0];
        if (tail !== undefined && sentence.end - tail.start > settings.maxChars) window = [];
      } else if (sentence.end - first.start > settings.maxChars) {
        windows.push(window);
        window = [];
      }
    }
    window.push(sentence);
  }
  windows.push(window);
  return windows;
}

function withStableIds(document: SourceDocument, groups: Span[][]): Chunk[] {
  const seen = new Map<string, number>();
  return groups.map((sentences) => {
    const start = sentences[0]?.start ?? 0;
    const end = sentences.at(-1)?.end ?? start;
    const text = document.text.slice(start, end);
    const digest = createHash('sha256').update(`${document.source}\u0000${text}`).digest('hex').slice(0, 16);
    const occurrence = (seen.get(digest) ?? 0) + 1;
    seen.set(digest, occurrence);
    return {
      id: occurrence === 1 ? digest : `${digest}-${occurrence}`,
      source: document.source,
      title: document.title,
      language: document.language,
      start,
      end,
      text,
      sentences: sentences.map((sentence) => ({ ...sentence })),
    };
  });
}

function spanLength(first: Span | undefined, last: Span | undefined): number {
  return first === undefined || last === undefined ? 0 : last.end - first.start;
}
