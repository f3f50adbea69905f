import { DEFAULTS } from '../../../core/defaults.js';
import { foldText } from '../../../core/text/analyze.js';
import type { PdfLine } from './read-pdf-pages.js';

export type FurnitureSettings = Pick<
  typeof DEFAULTS.pdf,
  'edgeLines' | 'repeatedLineShare' | 'repeatedLineMinPages' | 'furnitureBandShare' | 'furnitureGap' | 'isolatedShare'
>;

/**
 * The lines of a PDF that belong to the page rather than to the text: running headers and footers, page numbers. The
 * corpus-wide boilerplate pass compares blocks across files; within one PDF, what repeats is visible only across its
 * pages. A line is page furniture when it is at the top or bottom of its page and
 * - is only a page number (« 12 », « iii », « Page 3 of 10 », « - 7 - »), or
 * - repeats, numbers aside, at the edge of most pages (« Debian Policy Manual, Release 4.6.2.0 »), or
 * - is the first (last) line of its page, set off from the text by a wide gap, at a height where most pages have
 *   such a line: a running header that names the current chapter changes from page to page, but not its place.
 */
export function findPageFurniture(
  pages: readonly PdfLine[][],
  lineSpacing: number,
  settings: FurnitureSettings = DEFAULTS.pdf,
): Set<PdfLine> {
  const furniture = new Set<PdfLine>();
  const withText = pages.filter((lines) => lines.length > 0);
  if (withText.length === 0) return furniture;

  const edges = withText.map((lines) => edgesOf(lines, settings.edgeLines));
  const pagesWith = new Map<string, number>();
  for (const lines of edges) {
    for (const key of new Set(lines.all.map(repetitionKey))) pagesWith.set(key, (pagesWith.get(key) ?? 0) + 1);
  }
  const repeatedFrom = Math.max(settings.repeatedLineMinPages, settings.repeatedLineShare * withText.length);
  for (const lines of edges) {
    for (const line of lines.all) {
      if (isPageNumber(line.text) || (pagesWith.get(repetitionKey(line)) ?? 0) >= repeatedFrom) furniture.add(line);
    }
  }

  for (const side of ['top', 'bottom'] as const) {
    const outermost = edges.flatMap((lines) => {
      const line = lines[side];
      const gap = lines[`${side}Gap`];
      // A page of one line says nothing of where its text starts.
      const isolated = Number.isFinite(gap) && gap > settings.furnitureGap * lineSpacing;
      return line === undefined ? [] : [{ line, isolated }];
    });
    const bands = new Map<number, { count: number; isolated: number }>();
    for (const { line, isolated } of outermost) {
      for (const band of nearbyBands(line.y)) {
        const counts = bands.get(band) ?? { count: 0, isolated: 0 };
        counts.count += 1;
        if (isolated) counts.isolated += 1;
        bands.set(band, counts);
      }
    }
    for (const { line, isolated } of outermost) {
      const counts = bands.get(bandOf(line.y));
      if (counts === undefined || !isolated) continue;
      const shared = Math.max(settings.repeatedLineMinPages, settings.furnitureBandShare * withText.length);
      if (counts.count >= shared && counts.isolated >= settings.isolatedShare * counts.count) {
        furniture.add(line);
      }
    }
  }
  return furniture;
}

interface PageEdges {
  /** The lines counted as the page's edges: its top and bottom `edgeLines` by height. */
  all: PdfLine[];
  top: PdfLine | undefined;
  bottom: PdfLine | undefined;
  /** Space between the top (bottom) line and the next line toward the middle of the page; Infinity when alone. */
  topGap: number;
  bottomGap: number;
}

function edgesOf(lines: readonly PdfLine[], count: number): PageEdges {
  const byHeight = [...lines].sort((a, b) => b.y - a.y);
  const top = byHeight[0];
  const bottom = byHeight.at(-1);
  const second = byHeight[1];
  const penultimate = byHeight.at(-2);
  return {
    all: [...new Set([...byHeight.slice(0, count), ...byHeight.slice(-count)])],
    top,
    bottom,
    topGap: top !== undefined && second !== undefined ? top.y - second.y : Infinity,
    bottomGap: bottom !== undefined && penultimate !== undefined ? penultimate.y - bottom.y : Infinity,
  };
}

/** Heights are compared in bands of 2 points; a line counts for its band and the two beside it. */
function bandOf(y: number): number {
  return Math.round(y / 2);
}

function nearbyBands(y: number): number[] {
  const band = bandOf(y);
  return [band - 1, band, band + 1];
}

/** A line's text with numbers (Arabic or Roman) replaced, so that « 12 Chapter 2 » and « 14 Chapter 2 » compare equal. */
function repetitionKey(line: PdfLine): string {
  return foldText(line.text)
    .replace(/\d+/g, '#')
    .replace(/(?<![\p{L}])[ivxlcdm]+(?![\p{L}])/gu, '#')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A line that is only a page number, in the usual forms. */
export function isPageNumber(text: string): boolean {
  return /^(?:[-–—]\s*)?(?:(?:page|p\.)\s*)?(?:\d{1,5}|[ivxlcdm]{1,8})(?:\s*(?:\/|of|sur|de)\s*\d{1,5})?(?:\s*[-–—])?$/i.test(
    text.trim(),
  );
}
