import { DEFAULTS } from '../core/defaults.js';
import type { DocumentCensus } from '../core/index/census-file.js';
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
  for (const reading of readings) census.count(censusOf(reading, settings));
  return readings.map((reading) => census.content(reading));
}

/**
 * How the census sees a block, the first number of its entry in `DocumentCensus.blocks`:
 * - `LABEL_KEPT` `[0]`: a heading or question with letters, always kept and never counted;
 * - `LABEL_DROPPED` `[1]`: a heading or question of fewer than two letters;
 * - `DROPPED` `[2, hash]`: any other block of fewer than two letters or made of links, counted but never kept;
 * - `JUDGED` `[3, hash]`: kept unless it names a page of the corpus or repeats on many documents;
 * - `JUDGED_ROW` `[4, hash, ...cells]`: the same, and left out when each cell that is neither empty nor a link (whose
 *   hashes follow) names a page of the corpus.
 */
const LABEL_KEPT = 0;
const LABEL_DROPPED = 1;
const DROPPED = 2;
const JUDGED = 3;
const JUDGED_ROW = 4;

/** A text with at least two letters. */
const TWO_LETTERS = /\p{L}[^]*?\p{L}/u;

/**
 * What one document brings to the census, in numbers: the names of its page and, per block, its text's hash and
 * what the judgement of it depends on. Kept with the index, so that the judgement of an unchanged document can be
 * made again, against a corpus that changed around it, without reading the document.
 */
export function censusOf(reading: Reading, settings: BoilerplateSettings = DEFAULTS.boilerplate): DocumentCensus {
  const keyed = keyedBlocks(reading);
  const names: number[] = [];
  if (reading.title !== undefined) names.push(keyHash(normalize(reading.title)));
  const heading = keyed.find(({ block }) => isLabel(block));
  if (heading !== undefined) names.push(keyHash(heading.key));
  const blocks = keyed.map(({ block, key }): number[] => {
    const fewLetters = !TWO_LETTERS.test(key);
    if (isLabel(block)) return [fewLetters ? LABEL_DROPPED : LABEL_KEPT];
    const hash = keyHash(key);
    if (fewLetters || block.linkShare >= settings.maxLinkShare) return [DROPPED, hash];
    if (block.cells === undefined) return [JUDGED, hash];
    const named = block.cells.filter((cell) => cell.text !== '' && !cell.link);
    return [JUDGED_ROW, hash, ...named.map((cell) => keyHash(normalize(cell.text)))];
  });
  return { names: [...new Set(names)], blocks };
}

/**
 * What `removeBoilerplate` judges with, gathered one document at a time so that a large corpus need not be held in
 * memory: the page names, and on how many documents each block's text appears. Texts are kept as 53-bit hashes (two
 * FNV-1a halves), so the census holds a few numbers per distinct block rather than the corpus's text. Counting is
 * commutative: the order documents are counted in does not matter.
 */
export class BoilerplateCensus {
  private readonly pageNames = new Set<number>();
  private readonly documentsWith = new Map<number, number>();
  private documents = 0;
  /** The verdict of what is counted so far, made when first asked for. */
  private verdict: FurnitureJudgement | undefined;

  constructor(private readonly settings: BoilerplateSettings = DEFAULTS.boilerplate) {}

  /** Counts one document, from `censusOf`; every document is counted before any is judged. */
  count(census: DocumentCensus): void {
    this.verdict = undefined;
    for (const name of census.names) this.pageNames.add(name);
    const counted = new Set<number>();
    for (const [kind, hash] of census.blocks) {
      if (kind !== LABEL_KEPT && kind !== LABEL_DROPPED && hash !== undefined) counted.add(hash);
    }
    for (const hash of counted) this.documentsWith.set(hash, (this.documentsWith.get(hash) ?? 0) + 1);
    this.documents += 1;
  }

  /**
   * What the corpus counted so far says of page furniture, in a few numbers (the page names and the texts repeated
   * on too many documents), which judge any counted document: what the threads that split documents are given.
   */
  judgement(): FurnitureJudgement {
    if (this.verdict === undefined) {
      const repeatedFrom = Math.max(
        this.settings.repeatedMinDocuments,
        this.settings.repeatedMinShare * this.documents,
      );
      const repeated: number[] = [];
      for (const [hash, documents] of this.documentsWith) if (documents >= repeatedFrom) repeated.push(hash);
      this.verdict = new FurnitureJudgement({ pageNames: [...this.pageNames], repeated });
    }
    return this.verdict;
  }

  /** Which blocks of a counted document are content, block by block. */
  kept(census: DocumentCensus): boolean[] {
    return this.judgement().kept(census);
  }

  /** The blocks of a counted document that are content. */
  content(reading: Reading, census: DocumentCensus = censusOf(reading, this.settings)): ReadBlock[] {
    return this.judgement().content(reading, census);
  }
}

/** The judgement of a census as plain numbers, which another thread receives as they are (`toJSON`). */
export interface FurnitureVerdict {
  /** Hashes of the names of the corpus's pages. */
  pageNames: number[];
  /** Hashes of the texts found on enough documents to be page furniture. */
  repeated: number[];
}

/** The census's judgement of page furniture: which blocks of a counted document are content. */
export class FurnitureJudgement {
  private readonly pageNames: Set<number>;
  private readonly repeated: Set<number>;

  constructor(private readonly verdict: FurnitureVerdict) {
    this.pageNames = new Set(verdict.pageNames);
    this.repeated = new Set(verdict.repeated);
  }

  toJSON(): FurnitureVerdict {
    return this.verdict;
  }

  /** Which blocks of a document are content, block by block, from its census. */
  kept(census: DocumentCensus): boolean[] {
    return census.blocks.map(([kind, hash = 0, ...cells]) => {
      if (kind === LABEL_KEPT) return true;
      if (kind !== JUDGED && kind !== JUDGED_ROW) return false;
      if (this.pageNames.has(hash)) return false;
      if (kind === JUDGED_ROW && cells.every((cell) => this.pageNames.has(cell))) return false;
      return !this.repeated.has(hash);
    });
  }

  /** The blocks of a document that are content, from its reading and census. */
  content(reading: Reading, census: DocumentCensus): ReadBlock[] {
    const kept = this.kept(census);
    if (kept.length !== reading.blocks.length) throw new Error('the census is not of this reading');
    return reading.blocks.filter((_block, index) => kept[index]);
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
