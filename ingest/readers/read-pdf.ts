import { DEFAULTS } from '../../core/defaults.js';
import { UnreadableDocumentError } from '../../core/errors.js';
import type { BlockKind, Span } from '../../core/types.js';
import { isQuestionLine, Outline } from './outline.js';
import { findHeadings, type PdfHeading } from './pdf/find-headings.js';
import { findPageFurniture } from './pdf/find-page-furniture.js';
import { type PdfLine, readPdfPages } from './pdf/read-pdf-pages.js';
import type { ReadBlock, Reading } from './reading.js';

/**
 * Reads a PDF into citable text, page by page, with where each page is in it. The text is the page's lines in the
 * order the page draws them, without what belongs to the page rather than the text (running headers and footers,
 * page numbers) or to navigation (table-of-contents lines). Lines are joined into paragraphs, list items and code by
 * their spacing, indentation and font; a word hyphenated at a line end is joined (the hyphen is kept when the
 * document writes the word with one elsewhere); a paragraph that runs on over a page break stays one block, which
 * starts on the page it starts on. Headings come from the outline or the font size (see `findHeadings`).
 */
export async function readPdf(bytes: Uint8Array): Promise<Reading> {
  const content = await readPdfPages(bytes);
  const lines = content.pages.flat();
  const letters = lines.reduce((sum, line) => sum + (line.text.match(/\p{L}/gu)?.length ?? 0), 0);
  if (letters < DEFAULTS.pdf.minLetters) {
    throw new UnreadableDocumentError('the PDF has no text layer (a scanned document?); text in images is not read');
  }
  const bodySize = dominantSize(lines);
  const spacing = lineSpacing(content.pages, bodySize);
  const furniture = findPageFurniture(content.pages, spacing);
  const pages = content.pages.map((pageLines) => pageLines.filter((line) => !furniture.has(line)));
  const kept = pages.flat();
  const headings = findHeadings(kept, content.outline, bodySize);
  const writer = new PdfTextWriter(bodySize, spacing, headings, hyphenatedWords(kept));
  for (const [index, pageLines] of pages.entries()) writer.page(index + 1, pageLines, contentsLines(pageLines));
  writer.close();
  const firstHeading = writer.blocks.find((block) => block.kind === 'heading' || block.kind === 'question');
  return {
    text: writer.text(),
    title: content.title ?? firstHeading?.section.at(-1),
    blocks: writer.blocks,
    pages: writer.pages,
  };
}

/** The font size of most of the characters: the body text's. */
function dominantSize(lines: readonly PdfLine[]): number {
  const characters = new Map<number, number>();
  for (const line of lines) characters.set(line.size, (characters.get(line.size) ?? 0) + line.text.length);
  return [...characters].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 10;
}

/** The most common distance between two consecutive lines of body text: the line spacing within a paragraph. */
function lineSpacing(pages: readonly PdfLine[][], bodySize: number): number {
  const gaps = new Map<number, number>();
  for (const lines of pages) {
    for (let index = 1; index < lines.length; index += 1) {
      const previous = lines[index - 1];
      const line = lines[index];
      if (previous === undefined || line === undefined || previous.size !== bodySize || line.size !== bodySize)
        continue;
      const gap = Math.round((previous.y - line.y) * 2) / 2;
      if (gap > 0 && gap < 3 * bodySize) gaps.set(gap, (gaps.get(gap) ?? 0) + 1);
    }
  }
  return [...gaps].sort((a, b) => b[1] - a[1])[0]?.[0] ?? bodySize * 1.2;
}

const LEADER = /(?:\.\s*){4,}\s*(?:\d+|[ivxlcdm]+)?$/i;

/**
 * The lines of a page that are table-of-contents entries: dotted leaders to a page number, and, on a page made mostly
 * of such lines, every line (an entry may wrap, and a chapter's entry may have no leader); its headings stay headings.
 */
function contentsLines(lines: readonly PdfLine[]): Set<PdfLine> {
  const leaders = lines.filter((line) => LEADER.test(line.text));
  return new Set(leaders.length * 2 < lines.length ? leaders : lines);
}

/** Words the document writes with a hyphen inside a line: a line-end hyphen in one of them is kept. */
function hyphenatedWords(lines: readonly PdfLine[]): Set<string> {
  const words = new Set<string>();
  for (const line of lines) {
    for (const match of line.text.matchAll(/\p{L}+(?:-\p{L}+)+/gu)) words.add(match[0].toLowerCase());
  }
  return words;
}

const BULLET = /^(?:[•◦▪‣●○■□➢►✓–—*-]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+\S/u;
/** A line ending with one of these ends its sentence; a paragraph does not run on over a page break after it. */
const SENTENCE_END = /[.!?:;…]["'»”’)\]]*$/u;

/** Text set smaller than this share of the body's size is small print: footnotes, captions. */
const SMALL_PRINT = 0.9;

/** The block being written: its kind, where it starts, and the line it ends with so far. */
interface OpenBlock {
  kind: BlockKind;
  start: number;
  page: number;
  /** Left edge of the block's first line, where a list item's marker is. */
  x: number;
  last: PdfLine;
  /** Footnotes and other text smaller than the body are blocks of their own. */
  small: boolean;
}

/** Writes a PDF's kept lines as citable text, blocks and page spans. */
class PdfTextWriter {
  readonly blocks: ReadBlock[] = [];
  readonly pages: Span[] = [];
  private readonly parts: string[] = [];
  private length = 0;
  private readonly outline = new Outline();
  private open: OpenBlock | undefined;
  private heading: { block: ReadBlock; heading: PdfHeading; last: PdfLine } | undefined;

  constructor(
    private readonly bodySize: number,
    private readonly spacing: number,
    private readonly headings: ReadonlyMap<PdfLine, PdfHeading>,
    private readonly hyphenated: ReadonlySet<string>,
  ) {}

  text(): string {
    return this.parts.join('');
  }

  /** Writes the lines of page `number` (from 1), some of which are table-of-contents entries. */
  page(number: number, lines: readonly PdfLine[], contents: ReadonlySet<PdfLine>): void {
    this.pages.push({ start: this.length, end: this.length });
    let written = false;
    const pageSpan = this.pages[number - 1] as Span;
    const write = (separator: string, text: string) => {
      this.append(separator);
      if (!written) pageSpan.start = this.length;
      written = true;
      this.append(text);
      pageSpan.end = this.length;
    };
    for (const line of lines) {
      // A footnote mark the page sets apart from its line (a small « 3 » under « installed: ») is not text.
      if (line.size < this.bodySize * SMALL_PRINT && /^[\p{N}*†‡§]{1,3}$/u.test(line.text)) continue;
      const heading = this.headings.get(line);
      if (heading !== undefined) {
        this.writeHeading(line, heading, write);
      } else if (contents.has(line)) {
        this.close();
        write(this.length === 0 ? '' : '\n', line.text);
      } else {
        this.writeLine(line, write);
      }
    }
    if (!written) pageSpan.start = pageSpan.end = this.length;
  }

  private writeHeading(line: PdfLine, heading: PdfHeading, write: (separator: string, text: string) => void): void {
    const previous = this.heading;
    if (previous !== undefined && previous.heading.continued && previous.last.page === line.page) {
      write(' ', line.text);
      previous.block.end = this.length;
      this.heading = { ...previous, heading, last: line };
      return;
    }
    this.close();
    write(this.length === 0 ? '' : '\n\n', line.text);
    const question = isQuestionLine(heading.label);
    if (question) this.outline.question(heading.label);
    else this.outline.heading(heading.label, heading.level);
    const block: ReadBlock = {
      start: this.length - line.text.length,
      end: this.length,
      kind: question ? 'question' : 'heading',
      section: this.outline.path(),
      linkShare: 0,
      page: line.page,
    };
    this.blocks.push(block);
    this.heading = { block, heading, last: line };
  }

  private writeLine(line: PdfLine, write: (separator: string, text: string) => void): void {
    this.heading = undefined;
    const kind: BlockKind = line.monospace ? 'code' : BULLET.test(line.text) ? 'list-item' : 'paragraph';
    const small = line.size < this.bodySize * SMALL_PRINT;
    const open = this.open;
    if (open !== undefined && this.continues(open, line, kind, small)) {
      if (open.kind === 'code' && kind === 'code') {
        write('\n', line.text);
      } else {
        // Code set inline in a paragraph may fill a line of its own; prose after code lines makes them a paragraph.
        if (open.kind === 'code') open.kind = 'paragraph';
        write(this.hyphenatedAtEnd(line.text) ? '' : ' ', line.text);
      }
      open.last = line;
      return;
    }
    this.close();
    const tight = this.blocks.at(-1)?.kind === kind && kind === 'list-item';
    write(this.length === 0 ? '' : tight ? '\n' : '\n\n', line.text);
    this.open = { kind, start: this.length - line.text.length, page: line.page, x: line.x, last: line, small };
  }

  /** Whether a line goes on with the open block rather than starting a new one. */
  private continues(open: OpenBlock, line: PdfLine, kind: BlockKind, small: boolean): boolean {
    if (small !== open.small || kind === 'list-item') return false;
    const previous = open.last;
    const gap = previous.y - line.y;
    if (line.page !== previous.page || gap <= 0) {
      // Over a page break (or up into the next column): a paragraph runs on unless its sentence has ended.
      if (small || open.kind === 'code' || kind === 'code') return false;
      return !SENTENCE_END.test(previous.text) || /^\p{Ll}/u.test(line.text);
    }
    const expected = this.spacing * (previous.size / this.bodySize);
    if (gap > DEFAULTS.pdf.paragraphGap * expected) return false;
    if (open.kind === 'list-item') return line.x > open.x + line.size * 0.3;
    // A first line indented past the paragraph's lines after a finished sentence starts a new paragraph.
    return !(line.x > previous.x + line.size && SENTENCE_END.test(previous.text));
  }

  /**
   * Whether the text so far ends with a word hyphenated at the line end that the line goes on with, so that the line
   * is joined without a space. The hyphen is dropped (« Sec- » « tion » → « Section ») unless the word goes on with a
   * capital (« Half- » « Installed ») or the document writes it with a hyphen elsewhere (« non- » « free »).
   */
  private hyphenatedAtEnd(text: string): boolean {
    const last = this.parts.at(-1) ?? '';
    const hyphenated = /(\p{L}+)([-\u00AD])$/u.exec(last);
    const rest = /^\p{L}+/u.exec(text);
    if (hyphenated === null || rest === null) return false;
    const [, head = '', mark] = hyphenated;
    const kept = /^\p{Lu}/u.test(rest[0]) || this.hyphenated.has(`${head}-${rest[0]}`.toLowerCase());
    if (mark === '-' && kept) return true;
    this.parts[this.parts.length - 1] = last.slice(0, -1);
    this.length -= 1;
    const page = this.pages.at(-2);
    // The hyphen was the last character of the previous page.
    if (page !== undefined && page.end > this.length) page.end = this.length;
    return true;
  }

  /** Ends the open block. */
  close(): void {
    const open = this.open;
    this.open = undefined;
    if (open === undefined) return;
    this.blocks.push({
      start: open.start,
      end: this.length,
      kind: open.kind,
      section: this.outline.path(),
      linkShare: 0,
      page: open.page,
    });
  }

  private append(text: string): void {
    if (text === '') return;
    this.parts.push(text);
    this.length += text.length;
  }
}
