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
}

/** What a reader makes of a file: the citable text, its title when the file names one, and its blocks. */
export interface Reading {
  text: string;
  title: string | undefined;
  blocks: ReadBlock[];
}
