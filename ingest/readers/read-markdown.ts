import type { Nodes, Parents, RootContent, Table } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { toString } from 'mdast-util-to-string';
import { gfm } from 'micromark-extension-gfm';
import type { BlockKind } from '../../core/types.js';
import { isQuestionLine, labelText, Outline } from './outline.js';
import type { ReadBlock, Reading } from './reading.js';

/**
 * Reads Markdown (CommonMark with GitHub's tables) into blocks of the file's own text: the citable text is the file
 * itself, so every block is a span of it. Headings (ATX and setext) label what follows them; HTML and comments are
 * not blocks.
 */
export function readMarkdown(markdown: string): Reading {
  const tree = fromMarkdown(markdown, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  const reader = new MarkdownWalker();
  reader.children(tree.children, false);
  const firstHeading = reader.blocks.find((block) => block.kind === 'heading' || block.kind === 'question');
  return {
    text: markdown,
    title: firstHeading === undefined ? undefined : labelText(markdown.slice(firstHeading.start, firstHeading.end)),
    blocks: reader.blocks,
  };
}

class MarkdownWalker {
  readonly blocks: ReadBlock[] = [];
  private readonly outline = new Outline();

  children(nodes: readonly RootContent[], inItem: boolean): void {
    for (const node of nodes) this.node(node, inItem);
  }

  private node(node: RootContent, inItem: boolean): void {
    switch (node.type) {
      case 'heading': {
        const text = labelText(toString(node));
        if (text === '') return;
        this.outline.heading(text, node.depth);
        this.emit(contentSpan(node) ?? node, isQuestionLine(text) ? 'question' : 'heading', 0);
        return;
      }
      case 'paragraph': {
        const text = toString(node);
        if (!inItem && isQuestionLine(text) && text.length <= MAX_QUESTION_CHARS) {
          this.outline.question(labelText(text));
          this.emit(node, 'question', linkShare(node));
        } else {
          this.emit(node, inItem ? 'list-item' : 'paragraph', linkShare(node));
        }
        return;
      }
      case 'code':
        this.emit(node, 'code', 0);
        return;
      case 'table':
        this.table(node);
        return;
      case 'list':
        for (const item of node.children) this.children(item.children, true);
        return;
      case 'blockquote':
        this.children(node.children, inItem);
        return;
      default:
        // HTML, comments, thematic breaks, link definitions: not citable blocks.
        return;
    }
  }

  /** Each body row is a block; its cells, named by the header row's, are kept for navigation detection. */
  private table(table: Table): void {
    const [header, ...rows] = table.children;
    const headers = header?.children.map((cell) => toString(cell).trim()) ?? [];
    for (const row of rows) {
      const cells = row.children.map((cell) => ({
        text: toString(cell).trim(),
        link: linkShare(cell) > 0.5,
      }));
      const block = this.emit(row, 'table-row', 0);
      if (block === undefined) continue;
      block.cells = cells;
      block.linkShare =
        cells.filter((cell) => cell.link).reduce((sum, cell) => sum + cell.text.length, 0) /
        Math.max(
          1,
          cells.reduce((sum, cell) => sum + cell.text.length, 0),
        );
      // The column headers are not in the row's text; they are what makes the row readable, so they join its labels.
      if (headers.some((name) => name !== '')) block.section = [...block.section, headers.join(' | ')];
    }
  }

  private emit(node: Spanned, kind: BlockKind, links: number): ReadBlock | undefined {
    const start = node.position?.start.offset;
    const end = node.position?.end.offset;
    if (start === undefined || end === undefined || end <= start) return undefined;
    const block: ReadBlock = { start, end, kind, section: this.outline.path(), linkShare: links };
    this.blocks.push(block);
    return block;
  }
}

/** A question line longer than this is a paragraph that happens to end with a question. */
const MAX_QUESTION_CHARS = 300;

type Spanned = { position?: { start: { offset?: number }; end: { offset?: number } } | undefined };

/** The span of a node's content, without the markers around it (`## `, closing `#`s). */
function contentSpan(node: Parents): Spanned | undefined {
  const first = node.children[0];
  const last = node.children.at(-1);
  if (first?.position === undefined || last?.position === undefined) return undefined;
  return { position: { start: first.position.start, end: last.position.end } };
}

/** Share of a node's text that is link text. */
function linkShare(node: Nodes): number {
  const total = toString(node).replace(/\s+/g, '').length;
  if (total === 0) return 0;
  let linked = 0;
  const visit = (child: Nodes) => {
    if (child.type === 'link' || child.type === 'linkReference') {
      linked += toString(child).replace(/\s+/g, '').length;
      return;
    }
    if ('children' in child) for (const grandchild of child.children) visit(grandchild);
  };
  visit(node);
  return linked / total;
}
