import type { BlockKind, Span } from '../../core/types.js';

/** A cell of a table row, as navigation detection needs it. */
export interface ReadCell {
  text: string;
  /** Most of the cell's text is a link. */
  link: boolean;
}

/** A block as a reader finds it: before corpus-wide filtering and before its language is known. */
export interface ReadBlock extends Span {
  kind: BlockKind;
  /** The labels the block is under, outermost first; a heading's own text ends its path. */
  section: string[];
  /** Share of the block's characters inside links: a block made of links is navigation, not content. */
  linkShare: number;
  /** The cells of a table row. */
  cells?: ReadCell[];
  /** For a paged document (PDF): the page the block starts on, from 1. */
  page?: number;
}

/**
 * What a reader makes of a file: the citable text, its title when the file names one, and its blocks; for a paged
 * document (PDF), where each page is in the text.
 */
export interface Reading {
  text: string;
  title: string | undefined;
  blocks: ReadBlock[];
  /** Page `n` is `text.slice(pages[n - 1].start, pages[n - 1].end)`; an empty span for a page without text. */
  pages?: Span[];
}
