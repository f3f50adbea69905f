import { DEFAULTS } from '../core/defaults.js';
import { foldText } from '../core/text/analyze.js';
import type { ReadBlock, Reading } from './readers/reading.js';

export interface BoilerplateSettings {
  /** A block with at least this share of its text in links is navigation (a table of contents, a menu). */
  maxLinkShare: number;
  /** A block repeated on at least this many documents… */
  repeatedMinDocuments: number;
  /** …and on at least this share of them is page furniture. */
  repeatedMinShare: number;
}

/**
 * The blocks of each document that are content, judged over the whole corpus, since what repeats on every page of a
 * site is visible only across pages. Left out: blocks made of links (menus, tables of contents), blocks and table
 * rows that only name pages of the corpus (the previous, next and parent links of a manual), blocks repeated on many
 * pages (« Précédent », « Sommaire », a copyright line), and blocks of fewer than two letters (« 3.1. », « [D] »). Headings stay: the same
 * heading on many pages ("Options", "Examples") still labels what follows it.
 */
export function removeBoilerplate(
  readings: readonly Reading[],
  settings: BoilerplateSettings = DEFAULTS.boilerplate,
): ReadBlock[][] {
  const keyed = readings.map((reading) =>
    reading.blocks.map((block) => ({ block, key: normalize(reading.text.slice(block.start, block.end)) })),
  );
  const pageNames = new Set<string>();
  for (const [index, reading] of readings.entries()) {
    if (reading.title !== undefined) pageNames.add(normalize(reading.title));
    const heading = keyed[index]?.find(({ block }) => block.kind === 'heading' || block.kind === 'question');
    if (heading !== undefined) pageNames.add(heading.key);
  }
  const documentsWith = new Map<string, number>();
  for (const blocks of keyed) {
    for (const key of new Set(blocks.filter(({ block }) => !isLabel(block)).map(({ key }) => key))) {
      documentsWith.set(key, (documentsWith.get(key) ?? 0) + 1);
    }
  }
  const repeatedFrom = Math.max(settings.repeatedMinDocuments, settings.repeatedMinShare * readings.length);

  return keyed.map((blocks) =>
    blocks
      .filter(({ block, key }) => {
        if ((key.match(/\p{L}/gu) ?? []).length < 2) return false;
        if (isLabel(block)) return true;
        if (block.linkShare >= settings.maxLinkShare) return false;
        if (pageNames.has(key)) return false;
        if (block.cells !== undefined && block.cells.every((cell) => isNavigationCell(cell, pageNames))) return false;
        return (documentsWith.get(key) ?? 0) < repeatedFrom;
      })
      .map(({ block }) => block),
  );
}

function isLabel(block: ReadBlock): boolean {
  return block.kind === 'heading' || block.kind === 'question';
}

function isNavigationCell(cell: { text: string; link: boolean }, pageNames: ReadonlySet<string>): boolean {
  return cell.text === '' || cell.link || pageNames.has(normalize(cell.text));
}

/** Text compared across pages: folded, in single spaces, without the separators of table cells. */
function normalize(text: string): string {
  return foldText(text).replace(/[|]/g, ' ').replace(/\s+/g, ' ').trim();
}
