import { DEFAULTS } from '../../../core/defaults.js';
import { foldText } from '../../../core/text/analyze.js';
import type { OutlineEntry, PdfLine } from './read-pdf-pages.js';

/** A heading found on a page: its level from 1, and the label it gives the text under it. */
export interface PdfHeading {
  level: number;
  label: string;
  /** The line is the start of a heading that the next line or lines continue (« CHAPTER » / « TWO » / « TITLE »). */
  continued: boolean;
}

export type HeadingSettings = Pick<
  typeof DEFAULTS.pdf,
  'headingSizeRatio' | 'maxHeadingChars' | 'maxHeadingShare' | 'minOutlineMatchShare'
>;

/**
 * Finds a PDF's headings where the file gives them reliably. The outline (bookmarks), when most of its entries are
 * found as a line of the page they point to, names the headings and their levels; lines in a larger font that the
 * outline does not name (« CHAPTER TWO » above a chapter's title) join the heading below them. Without a usable
 * outline, lines set clearly larger than the body text are headings, one level per font size, largest first, unless
 * so many lines are large that size says nothing.
 */
export function findHeadings(
  lines: readonly PdfLine[],
  outline: readonly OutlineEntry[],
  bodySize: number,
  settings: HeadingSettings = DEFAULTS.pdf,
): Map<PdfLine, PdfHeading> {
  const large = lines.filter(
    (line) =>
      line.size >= bodySize * settings.headingSizeRatio &&
      line.text.length <= settings.maxHeadingChars &&
      /\p{L}/u.test(line.text),
  );
  const fromOutline = outlineHeadings(lines, outline, bodySize, settings);
  if (fromOutline !== undefined) {
    const named = new Set(fromOutline.keys());
    const deepest = Math.max(...[...fromOutline.values()].map((heading) => heading.level));
    for (const line of large) {
      if (!fromOutline.has(line))
        fromOutline.set(line, { level: deepest + 1, label: label(line.text), continued: false });
    }
    markLeadIns(lines, fromOutline, named);
    return fromOutline;
  }
  const headings = new Map<PdfLine, PdfHeading>();
  const characters = (some: readonly PdfLine[]) => some.reduce((sum, line) => sum + line.text.length, 0);
  if (characters(large) > settings.maxHeadingShare * characters(lines)) return headings;
  const sizes = [...new Set(large.map((line) => line.size))].sort((a, b) => b - a);
  const largeSet = new Set(large);
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index];
    if (line === undefined || !largeSet.has(line)) continue;
    // A title set on several lines: the lines that follow it closely in the same size are one heading.
    const parts = [line];
    for (let next = lines[index + 1]; next !== undefined && continuesHeading(parts.at(-1) ?? line, next, largeSet);) {
      parts.push(next);
      index += 1;
      next = lines[index + 1];
    }
    const text = label(parts.map((part) => part.text).join(' '));
    const level = Math.min(6, sizes.indexOf(line.size) + 1);
    for (const [position, part] of parts.entries()) {
      headings.set(part, { level, label: text, continued: position < parts.length - 1 });
    }
  }
  return headings;
}

function continuesHeading(previous: PdfLine, next: PdfLine, large: ReadonlySet<PdfLine>): boolean {
  const gap = previous.y - next.y;
  return (
    large.has(next) && next.page === previous.page && next.size === previous.size && gap > 0 && gap <= 1.6 * next.size
  );
}

/**
 * The headings the outline names: each entry is looked for on its page as a line (or two consecutive lines) that
 * reads as its title, possibly after a number (« 2.4 Sections »). Undefined when too few entries are found.
 */
function outlineHeadings(
  lines: readonly PdfLine[],
  outline: readonly OutlineEntry[],
  bodySize: number,
  settings: HeadingSettings,
): Map<PdfLine, PdfHeading> | undefined {
  const located = outline.filter((entry) => entry.page !== undefined && foldKey(entry.title) !== '');
  if (located.length === 0) return undefined;
  const byPage = new Map<number, number[]>();
  for (const [index, line] of lines.entries()) {
    byPage.set(line.page, [...(byPage.get(line.page) ?? []), index]);
  }
  const headings = new Map<PdfLine, PdfHeading>();
  let found = 0;
  for (const entry of located) {
    const title = foldKey(entry.title);
    for (const index of byPage.get(entry.page ?? 0) ?? []) {
      const line = lines[index];
      if (line === undefined || headings.has(line) || line.size < bodySize) continue;
      const next = lines[index + 1];
      const matched = namesTitle(foldKey(line.text), title)
        ? [line]
        : next !== undefined && next.page === line.page && namesTitle(foldKey(`${line.text} ${next.text}`), title)
          ? [line, next]
          : undefined;
      if (matched === undefined) continue;
      const text = matched.map((part) => part.text).join(' ');
      // A title set in capitals reads better as the outline writes it.
      const shown = text === text.toUpperCase() && entry.title !== entry.title.toUpperCase() ? entry.title : text;
      for (const [position, part] of matched.entries()) {
        headings.set(part, { level: entry.depth, label: label(shown), continued: position < matched.length - 1 });
      }
      found += 1;
      break;
    }
  }
  return found >= settings.minOutlineMatchShare * located.length ? headings : undefined;
}

/** Whether a line's text is a title, alone or after a number or a word such as « Chapter 3. ». */
function namesTitle(text: string, title: string): boolean {
  if (text === title) return true;
  if (!text.endsWith(` ${title}`)) return false;
  const prefix = text.slice(0, -title.length - 1);
  return /^(?:(?:chapter|chapitre|section|appendix|annexe|part|partie)\s*)?(?:[\d.]+|[ivxlcdm]+\.?|[a-z]\.?)\s*[.:–—-]?$/.test(
    prefix,
  );
}

/**
 * Short lines just above an outline's heading on its page, in capitals or in a large font the outline does not name,
 * lead into it: « CHAPTER » and « TWO » above « THE DEBIAN ARCHIVE » are one heading.
 */
function markLeadIns(lines: readonly PdfLine[], headings: Map<PdfLine, PdfHeading>, named: ReadonlySet<PdfLine>): void {
  for (let index = lines.length - 1; index > 0; index -= 1) {
    const heading = lines[index];
    const found = heading === undefined ? undefined : headings.get(heading);
    if (heading === undefined || found === undefined || !named.has(heading)) continue;
    let lead = index - 1;
    for (; lead >= 0; lead -= 1) {
      const line = lines[lead];
      if (line === undefined || named.has(line) || line.page !== heading.page || line.text.split(/\s+/).length > 3) {
        break;
      }
      const capitals = /\p{L}/u.test(line.text) && line.text === line.text.toUpperCase();
      if (!headings.has(line) && !capitals) break;
      headings.set(line, { ...found, continued: true });
    }
    index = lead + 1;
  }
}

function foldKey(text: string): string {
  return foldText(text).replace(/[’']/g, "'").replace(/\s+/g, ' ').trim();
}

/** A heading's label: one line, without a trailing colon. */
function label(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/\s*:$/, '');
}
