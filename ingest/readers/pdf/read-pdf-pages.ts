import { createRequire } from 'node:module';
import path from 'node:path';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import type { PDFDocumentProxy } from 'pdfjs-dist/types/src/display/api.js';
import { DEFAULTS } from '../../../core/defaults.js';
import { UnreadableDocumentError } from '../../../core/errors.js';

/** A line of text on a PDF page, in the order the page's content draws it. */
export interface PdfLine {
  text: string;
  /** Page number, from 1. */
  page: number;
  /** Left edge and baseline, in points from the page's bottom-left corner. */
  x: number;
  y: number;
  /** Font size of most of the line's characters, in points. */
  size: number;
  /** Every character of the line is in a monospaced font. */
  monospace: boolean;
}

/** An entry of the document outline (bookmarks): a title, its depth from 1, and the page it points to. */
export interface OutlineEntry {
  title: string;
  depth: number;
  page: number | undefined;
}

/** What a PDF holds for reading: its declared title, its outline, and the lines of each page. */
export interface PdfContent {
  title: string | undefined;
  outline: OutlineEntry[];
  /** `pages[n - 1]` holds the lines of page `n`. */
  pages: PdfLine[][];
}

/** pdf.js's data folders: character maps for CJK fonts, and the standard fonts a PDF may name without embedding. */
const PDFJS_DIR = path.dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'));

/**
 * Reads the lines of every page of a PDF with pdf.js (the 4.x legacy build, which runs on Node 20), one page at a
 * time: each page's parsed content is released before the next is read, so memory holds the file and its text, not
 * its pages. Throws UnreadableDocumentError for an encrypted, damaged or truncated file.
 */
export async function readPdfPages(bytes: Uint8Array): Promise<PdfContent> {
  if (!/%%EOF\s*$/.test(Buffer.from(bytes.subarray(Math.max(0, bytes.length - 1024))).toString('latin1'))) {
    // pdf.js reads on past a missing end, recovering whatever objects it finds: a cut-off download would be indexed
    // in part without anyone knowing.
    throw new UnreadableDocumentError('the PDF is truncated (it has no end-of-file marker)');
  }
  const task = getDocument({
    // pdf.js takes ownership of the buffer it is given; it gets a copy.
    data: new Uint8Array(bytes),
    cMapUrl: `${path.join(PDFJS_DIR, 'cmaps')}/`,
    cMapPacked: true,
    standardFontDataUrl: `${path.join(PDFJS_DIR, 'standard_fonts')}/`,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    verbosity: 0,
  });
  let document: PDFDocumentProxy;
  try {
    document = await task.promise;
  } catch (error) {
    await task.destroy();
    throw unreadable(error);
  }
  try {
    const pages: PdfLine[][] = [];
    for (let number = 1; number <= document.numPages; number += 1) {
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      pages.push(pageLines(number, content.items, content.styles));
      page.cleanup();
    }
    return { title: await declaredTitle(document), outline: await readOutline(document), pages };
  } catch (error) {
    throw unreadable(error);
  } finally {
    await task.destroy();
  }
}

/** The reason a PDF cannot be read, from pdf.js's error. */
function unreadable(error: unknown): UnreadableDocumentError {
  if (error instanceof UnreadableDocumentError) return error;
  const name = (error as { name?: unknown }).name;
  const message = (error instanceof Error ? error.message.split('\n')[0] : undefined) ?? String(error);
  if (name === 'PasswordException') return new UnreadableDocumentError('the PDF is encrypted with a password');
  if (name === 'InvalidPDFException') return new UnreadableDocumentError(`the PDF is damaged (${message})`);
  return new UnreadableDocumentError(`the PDF cannot be read (${message})`);
}

interface TextItem {
  str: string;
  transform: number[];
  width: number;
  height: number;
  fontName: string;
  hasEOL: boolean;
}

/**
 * Groups a page's text items into lines, in the order the page draws them: an item starts a new line after an
 * end-of-line mark or when its baseline moves by more than `sameLineShare` of the font size (a superscript stays on
 * its line). A gap between two items wider than a fifth of the font size is a space.
 */
export function pageLines(
  page: number,
  items: ReadonlyArray<object>,
  styles: Readonly<Record<string, { fontFamily?: string }>>,
): PdfLine[] {
  const lines: PdfLine[] = [];
  let current: LineDraft | undefined;
  let endOfLine = false;
  const close = () => {
    if (current === undefined) return;
    const text = current.parts.join('').replace(/\s+/g, ' ').trim();
    const size = [...current.sizes].sort((left, right) => right[1] - left[1])[0]?.[0] ?? 0;
    if (text !== '') lines.push({ text, page, x: current.x, y: current.y, size, monospace: current.monospace });
    current = undefined;
  };
  for (const item of items) {
    if (!isTextItem(item)) continue;
    const [a = 0, b = 0, c = 0, d = 0, x = 0, y = 0] = item.transform;
    const size = item.height > 0 ? item.height : Math.hypot(c, d) || Math.hypot(a, b);
    if (item.str.trim() === '') {
      // White space between runs (pdf.js adds one where it sees a gap): a space, never a line of its own.
      if (current !== undefined && item.str !== '') current.parts.push(' ');
    } else {
      if (current !== undefined) {
        const moved = Math.abs(y - current.y) > DEFAULTS.pdf.sameLineShare * Math.max(size, current.largest);
        if (endOfLine || moved) close();
      }
      if (current === undefined) {
        current = { parts: [], x, y, right: x, sizes: new Map(), largest: 0, monospace: true };
      } else if (x - current.right > size * 0.2 && !/\s$/.test(current.parts.at(-1) ?? '')) {
        current.parts.push(' ');
      }
      current.parts.push(item.str);
      const rounded = Math.round(size * 2) / 2;
      current.sizes.set(rounded, (current.sizes.get(rounded) ?? 0) + item.str.length);
      current.largest = Math.max(current.largest, size);
      current.monospace &&= styles[item.fontName]?.fontFamily === 'monospace';
      current.right = Math.max(current.right, x + item.width);
      endOfLine = false;
    }
    if (item.hasEOL) endOfLine = true;
  }
  close();
  return lines;
}

/** A line being gathered: its pieces of text, where it starts, its right edge, and characters by font size. */
interface LineDraft {
  parts: string[];
  x: number;
  y: number;
  right: number;
  sizes: Map<number, number>;
  largest: number;
  monospace: boolean;
}

function isTextItem(item: object): item is TextItem {
  return typeof (item as { str?: unknown }).str === 'string' && Array.isArray((item as TextItem).transform);
}

/** The title in the PDF's information dictionary, unless it is empty or a file name. */
async function declaredTitle(document: PDFDocumentProxy): Promise<string | undefined> {
  const metadata = await document.getMetadata().catch(() => undefined);
  const info = metadata?.info as { Title?: unknown } | undefined;
  const title = typeof info?.Title === 'string' ? info.Title.replace(/\s+/g, ' ').trim() : '';
  if (title === '' || /\.(?:pdf|docx?|odt|tex|dvi|ps|indd|rtf)$/i.test(title) || /^untitled$/i.test(title)) {
    return undefined;
  }
  return title;
}

/** The outline's entries in order, each with the page its destination is on (undefined when it cannot be resolved). */
async function readOutline(document: PDFDocumentProxy): Promise<OutlineEntry[]> {
  const outline = await document.getOutline().catch(() => null);
  const entries: OutlineEntry[] = [];
  type Node = { title: string; dest: string | unknown[] | null; items: Node[] };
  const visit = async (nodes: readonly Node[], depth: number) => {
    for (const node of nodes) {
      entries.push({ title: node.title.replace(/\s+/g, ' ').trim(), depth, page: await pageOf(document, node.dest) });
      await visit(node.items, depth + 1);
    }
  };
  await visit((outline ?? []) as Node[], 1);
  return entries;
}

async function pageOf(document: PDFDocumentProxy, destination: string | unknown[] | null): Promise<number | undefined> {
  try {
    const explicit = typeof destination === 'string' ? await document.getDestination(destination) : destination;
    const target = explicit?.[0];
    if (typeof target === 'number') return target + 1;
    if (target !== null && typeof target === 'object' && 'num' in target) {
      return (await document.getPageIndex(target as { num: number; gen: number })) + 1;
    }
  } catch {
    // A destination that names nothing: the entry is kept without a page.
  }
  return undefined;
}
