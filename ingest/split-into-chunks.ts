import { createHash } from 'node:crypto';
import { sameSection } from '../core/section-title.js';
import { dominantLanguage } from '../core/text/analyze.js';
import { splitSentences, trimSpan } from '../core/text/split-sentences.js';
import type { Block, Chunk, Sentence, SourceDocument, Span } from '../core/types.js';

export interface ChunkerSettings {
  targetChars: number;
  maxChars: number;
  overlapSentences: number;
}

/**
 * Cuts a document into passages made of whole sentences, section by section: a chunk never straddles two sections,
 * so that its section path names what it is about. Headings and questions are not in chunks (they are their
 * section path). Within a section, short blocks are packed together up to `targetChars`; a longer block is cut
 * into windows of sentences that repeat the last `overlapSentences` of the previous window. A table row, or a
 * piece of code of up to `targetChars`, counts as one sentence.
 */
export function splitIntoChunks(document: SourceDocument, settings: ChunkerSettings): Chunk[] {
  const groups: Array<{ section: string[]; sentences: Sentence[] }> = [];
  for (const run of sectionRuns(document.blocks)) {
    let packed: Sentence[] = [];
    const close = () => {
      if (packed.length > 0) groups.push({ section: run.section, sentences: packed });
      packed = [];
    };
    for (const block of run.blocks) {
      const sentences = sentencesOf(document.text, block, settings);
      if (document.pages !== undefined) {
        for (const sentence of sentences) sentence.page = pageAt(document.pages, sentence.start);
      }
      const first = sentences[0];
      if (first === undefined) continue;
      const length = block.end - block.start;
      const joinedLength = block.end - (packed[0]?.start ?? first.start);
      if (packed.length > 0 && joinedLength <= settings.targetChars) {
        packed.push(...sentences);
        continue;
      }
      close();
      if (length <= settings.targetChars) {
        packed = [...sentences];
      } else {
        for (const window of sentenceWindows(sentences, settings))
          groups.push({ section: run.section, sentences: window });
      }
    }
    close();
  }
  return withStableIds(document, groups);
}

/** Consecutive content blocks under the same labels; a heading or question ends a run. */
function sectionRuns(blocks: readonly Block[]): Array<{ section: string[]; blocks: Block[] }> {
  const runs: Array<{ section: string[]; blocks: Block[] }> = [];
  let current: { section: string[]; blocks: Block[] } | undefined;
  for (const block of blocks) {
    if (block.kind === 'heading' || block.kind === 'question') {
      current = undefined;
      continue;
    }
    if (current === undefined || !sameSection(current.section, block.section)) {
      current = { section: block.section, blocks: [] };
      runs.push(current);
    }
    current.blocks.push(block);
  }
  return runs;
}

/**
 * The page (from 1) an offset of a paged document's text is on: the last page starting at or before it that has
 * text (offsets between two pages, where their separator is, count for the page before).
 */
export function pageAt(pages: readonly Span[], offset: number): number {
  let low = 0;
  let high = pages.length - 1;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if ((pages[middle]?.start ?? 0) <= offset) low = middle;
    else high = middle - 1;
  }
  while (low > 0 && pages[low]?.start === pages[low]?.end) low -= 1;
  return low + 1;
}

/** The sentences of a block: prose is cut by `Intl.Segmenter`; a table row is one; code is cut at lines. */
function sentencesOf(text: string, block: Block, settings: ChunkerSettings): Sentence[] {
  const { kind, language } = block;
  if (kind === 'heading' || kind === 'question') return [];
  const spans =
    kind === 'table-row'
      ? [trimSpan(text, block)]
      : kind === 'code'
        ? codePieces(text, block, settings.targetChars)
        : splitSentences(text, block, language);
  return spans.filter((span) => span.end > span.start).map((span) => ({ ...span, kind, language }));
}

/** A piece of code as runs of whole lines of up to `limit` characters (a longer line stands alone). */
function codePieces(text: string, block: Span, limit: number): Span[] {
  const pieces: Span[] = [];
  let current: Span | undefined;
  let lineStart = block.start;
  while (lineStart < block.end) {
    const newline = text.indexOf('\n', lineStart);
    const lineEnd = newline === -1 || newline > block.end ? block.end : newline;
    if (current !== undefined && lineEnd - current.start > limit) {
      pieces.push(trimSpan(text, current));
      current = undefined;
    }
    current = current === undefined ? { start: lineStart, end: lineEnd } : { start: current.start, end: lineEnd };
    lineStart = lineEnd + 1;
  }
  if (current !== undefined) pieces.push(trimSpan(text, current));
  return pieces;
}

/**
 * Consecutive windows of sentences of about `targetChars`, each repeating the tail of the one before.
 * A window is only closed once it holds more than the overlap, so that no window is contained in the next.
 */
function sentenceWindows<S extends Span>(sentences: S[], settings: ChunkerSettings): S[][] {
  const windows: S[][] = [];
  let window: S[] = [];
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

function withStableIds(
  document: SourceDocument,
  groups: ReadonlyArray<{ section: string[]; sentences: Sentence[] }>,
): Chunk[] {
  const seen = new Map<string, number>();
  return groups.map(({ section, sentences }) => {
    const start = sentences[0]?.start ?? 0;
    const end = sentences.at(-1)?.end ?? start;
    const text = document.text.slice(start, end);
    const digest = createHash('sha256').update(`${document.source}\u0000${text}`).digest('hex').slice(0, 16);
    const occurrence = (seen.get(digest) ?? 0) + 1;
    seen.set(digest, occurrence);
    const chunk: Chunk = {
      id: occurrence === 1 ? digest : `${digest}-${occurrence}`,
      source: document.source,
      title: document.title,
      section,
      language: dominantLanguage(sentences, document.language),
      start,
      end,
      text,
      sentences: sentences.map((sentence) => ({ ...sentence })),
    };
    const page = sentences[0]?.page;
    if (page !== undefined) chunk.page = page;
    return chunk;
  });
}
