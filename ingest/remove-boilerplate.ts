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
  const census = new BoilerplateCensus(settings);
  for (const reading of readings) census.count(reading);
  return readings.map((reading) => census.content(reading));
}

/**
 * What `removeBoilerplate` judges with, gathered one document at a time so that a large corpus need not be held in
 * memory: the page names, and on how many documents each block's text appears. Texts are kept as 53-bit hashes (two
 * FNV-1a halves), so the census holds a few numbers per distinct block rather than the corpus's text.
 */
export class BoilerplateCensus {
  private readonly pageNames = new Set<number>();
  private readonly documentsWith = new Map<number, number>();
  private documents = 0;

  constructor(private readonly settings: BoilerplateSettings = DEFAULTS.boilerplate) {}

  /** Counts one document; every document is counted before `content` is asked of any. */
  count(reading: Reading): void {
    const keyed = keyedBlocks(reading);
    if (reading.title !== undefined) this.pageNames.add(keyHash(normalize(reading.title)));
    const heading = keyed.find(({ block }) => block.kind === 'heading' || block.kind === 'question');
    if (heading !== undefined) this.pageNames.add(keyHash(heading.key));
    for (const key of new Set(keyed.filter(({ block }) => !isLabel(block)).map(({ key }) => keyHash(key)))) {
      this.documentsWith.set(key, (this.documentsWith.get(key) ?? 0) + 1);
    }
    this.documents += 1;
  }

  /** The blocks of a counted document that are content. */
  content(reading: Reading): ReadBlock[] {
    const repeatedFrom = Math.max(this.settings.repeatedMinDocuments, this.settings.repeatedMinShare * this.documents);
    return keyedBlocks(reading)
      .filter(({ block, key }) => {
        if ((key.match(/\p{L}/gu) ?? []).length < 2) return false;
        if (isLabel(block)) return true;
        if (block.linkShare >= this.settings.maxLinkShare) return false;
        const hash = keyHash(key);
        if (this.pageNames.has(hash)) return false;
        if (block.cells !== undefined && block.cells.every((cell) => this.isNavigationCell(cell))) return false;
        return (this.documentsWith.get(hash) ?? 0) < repeatedFrom;
      })
      .map(({ block }) => block);
  }

  private isNavigationCell(cell: { text: string; link: boolean }): boolean {
    return cell.text === '' || cell.link || this.pageNames.has(keyHash(normalize(cell.text)));
  }
}

function keyedBlocks(reading: Reading): Array<{ block: ReadBlock; key: string }> {
  return reading.blocks.map((block) => ({ block, key: normalize(reading.text.slice(block.start, block.end)) }));
}

/** A 53-bit hash of a text: FNV-1a from two offsets, one giving the high 21 bits. */
function keyHash(text: string): number {
  let low = 0x811c9dc5;
  let high = 0x01000193;
  for (let index = 0; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    low = Math.imul(low ^ unit, 0x01000193);
    high = Math.imul(high ^ unit, 0x01000193);
  }
  return (high >>> 11) * 0x100000000 + (low >>> 0);
}

function isLabel(block: ReadBlock): boolean {
  return block.kind === 'heading' || block.kind === 'question';
}

/** Text compared across pages: folded, in single spaces, without the separators of table cells. */
function normalize(text: string): string {
  return foldText(text).replace(/[|]/g, ' ').replace(/\s+/g, ' ').trim();
}
