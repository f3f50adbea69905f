import { type AnyNode, type Element, isTag, isText } from 'domhandler';
import { parseDocument } from 'htmlparser2';
import { DEFAULTS } from '../../core/defaults.js';
import type { BlockKind } from '../../core/types.js';
import { isQuestionLine, labelText, Outline } from './outline.js';
import type { ReadBlock, ReadCell, Reading } from './reading.js';

/**
 * Reads an HTML page into citable text made of its blocks: headings, paragraphs, list items, table rows (with their
 * column headers) and code, one after another. What a page declares as navigation or page furniture (`nav`, the
 * page's `header` and `footer`, ARIA landmarks other than the main content, forms, scripts) is left out; when the
 * page marks its main content (`main`, `role="main"`), only that is read. Permalink anchors (a lone "¶") are
 * dropped. Repetition across the pages of a corpus is judged later, by the loader, which sees every page.
 */
export function readHtml(html: string): Reading {
  const document = parseDocument(html, { decodeEntities: true });
  const walker = new HtmlWalker();
  walker.walk(findMain(document.children) ?? document.children);
  const title = findFirst(document.children, (element) => element.name === 'title');
  const heading = findFirst(document.children, (element) => element.name === 'h1');
  const named = [title, heading].map((element) => (element === undefined ? '' : labelText(inlineText(element))));
  return { text: walker.text, title: named.find((name) => name !== ''), blocks: walker.blocks };
}

/** Elements whose content is never citable text. */
const SKIPPED = new Set([
  'head',
  'script',
  'style',
  'noscript',
  'template',
  'iframe',
  'object',
  'embed',
  'svg',
  'math',
  'canvas',
  'img',
  'picture',
  'video',
  'audio',
  'map',
  'nav',
  'form',
  'button',
  'input',
  'select',
  'textarea',
]);

/** ARIA landmarks around the content rather than of it. */
const SKIPPED_ROLES = new Set(['navigation', 'banner', 'contentinfo', 'search', 'menu', 'menubar', 'toolbar']);

/** Elements that end the text before them and start a new block. */
const BLOCK_ELEMENTS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'caption',
  'center',
  'dd',
  'details',
  'dialog',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'header',
  'hgroup',
  'hr',
  'html',
  'li',
  'main',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'ul',
]);

const SECTIONING = new Set(['main', 'article', 'section', 'aside']);
const HEADING = /^h([1-6])$/;

class HtmlWalker {
  text = '';
  readonly blocks: ReadBlock[] = [];
  private readonly outline = new Outline();
  /** Text met since the last block ended, with whether each piece is inside a link. */
  private pending: Array<{ text: string; link: boolean }> = [];
  private listItems = 0;
  private sectioning = 0;

  walk(nodes: readonly AnyNode[]): void {
    for (const node of nodes) this.visit(node);
    this.flush();
  }

  private visit(node: AnyNode): void {
    if (isText(node)) {
      this.pending.push({ text: node.data, link: false });
      return;
    }
    if (!isTag(node) || isSkipped(node, this.sectioning)) return;
    const name = node.name;
    const level = HEADING.exec(name)?.[1];
    if (level !== undefined) return this.heading(node, Number(level));
    if (name === 'br') return void this.pending.push({ text: ' ', link: false });
    if (name === 'a') return void this.pending.push(...inlineRuns(node));
    if (name === 'pre') return this.code(node);
    if (name === 'table') return this.table(node);
    if (name === 'dl') return this.definitions(node);
    if (!BLOCK_ELEMENTS.has(name)) {
      for (const child of node.children) this.visit(child);
      return;
    }
    this.flush();
    const item = name === 'li';
    const sectioning = SECTIONING.has(name);
    if (item) this.listItems += 1;
    if (sectioning) this.sectioning += 1;
    for (const child of node.children) this.visit(child);
    this.flush();
    if (item) this.listItems -= 1;
    if (sectioning) this.sectioning -= 1;
  }

  private heading(element: Element, level: number): void {
    this.flush();
    const text = labelText(inlineText(element));
    if (text === '') return;
    this.outline.heading(text, level);
    this.emit(text, isQuestionLine(text) ? 'question' : 'heading', 0);
  }

  private code(element: Element): void {
    this.flush();
    const text = inlineRuns(element)
      .map((run) => run.text)
      .join('')
      .replace(/^\n+|\s+$/g, '');
    if (text.trim() !== '') this.emit(text, 'code', 0);
  }

  /** A list of terms and their definitions: each term labels the blocks of its definition. */
  private definitions(element: Element): void {
    this.flush();
    const mark = this.outline.mark();
    for (const child of element.children) {
      if (isTag(child) && child.name === 'dt') {
        const runs = inlineRuns(child);
        const text = labelText(runs.map((run) => run.text).join(''));
        if (text === '') continue;
        // A term that is a link is an entry of a table of contents, not a label of what follows.
        if (linkShare(runs) >= DEFAULTS.boilerplate.maxLinkShare) {
          this.emit(text, 'paragraph', linkShare(runs));
          continue;
        }
        this.outline.term(text, mark);
        this.emit(text, isQuestionLine(text) ? 'question' : 'heading', 0);
      } else {
        this.visit(child);
      }
    }
    this.flush();
    this.outline.restore(mark);
  }

  /**
   * A row of two or more filled cells is one block, each cell prefixed with its column's header when the table has
   * a header row. A row with a single filled cell is layout, not data: its cell is read as ordinary blocks.
   */
  private table(element: Element): void {
    this.flush();
    const rows = tableRows(element);
    const header = rows.find((row) => row.cells.length > 1 && row.cells.every((cell) => cell.name === 'th'));
    const headers =
      header === undefined ? [] : header.cells.map((cell) => labelText(inlineText(cell)).replace(/:$/, ''));
    for (const row of rows) {
      if (row === header) continue;
      const cells = row.cells.map((cell): ReadCell & { element: Element } => {
        const runs = inlineRuns(cell);
        const text = collapse(runs.map((run) => run.text).join(''));
        return { element: cell, text, link: linkShare(runs) > 0.5 };
      });
      const filled = cells.filter((cell) => cell.text !== '');
      if (filled.length <= 1) {
        for (const cell of cells) this.walk(cell.element.children);
        continue;
      }
      const asked = filled.map((cell) => cell.text).join(' ');
      if (isQuestionLine(asked)) {
        this.outline.question(labelText(asked));
        this.emit(labelText(asked), 'question', 0);
        continue;
      }
      const text = cells
        .map((cell, index) => {
          const name = headers.length === cells.length ? headers[index] : undefined;
          return cell.text === '' || name === undefined || name === '' ? cell.text : `${name}: ${cell.text}`;
        })
        .filter((part) => part !== '')
        .join(' | ');
      this.emit(
        text,
        'table-row',
        filled.filter((cell) => cell.link).reduce((sum, cell) => sum + cell.text.length, 0) / text.length,
        filled.map(({ text: cellText, link }) => ({ text: cellText, link })),
      );
    }
  }

  /** Ends the pending text as a paragraph, list item or question. */
  private flush(): void {
    const runs = this.pending;
    this.pending = [];
    const text = collapse(runs.map((run) => run.text).join(''));
    if (text === '') return;
    if (this.listItems === 0 && isQuestionLine(text) && text.length <= MAX_QUESTION_CHARS) {
      this.outline.question(labelText(text));
      this.emit(text, 'question', linkShare(runs));
      return;
    }
    this.emit(text, this.listItems > 0 ? 'list-item' : 'paragraph', linkShare(runs));
  }

  private emit(text: string, kind: BlockKind, links: number, cells?: ReadCell[]): void {
    const previous = this.blocks.at(-1);
    const tight = previous?.kind === kind && (kind === 'list-item' || kind === 'table-row');
    if (this.text !== '') this.text += tight ? '\n' : '\n\n';
    const start = this.text.length;
    this.text += text;
    const block: ReadBlock = { start, end: this.text.length, kind, section: this.outline.path(), linkShare: links };
    if (cells !== undefined) block.cells = cells;
    this.blocks.push(block);
  }
}

/** A question line longer than this is a paragraph that happens to end with a question. */
const MAX_QUESTION_CHARS = 300;

function isSkipped(element: Element, sectioning: number): boolean {
  const attributes = element.attribs;
  if (SKIPPED.has(element.name)) return true;
  if (SKIPPED_ROLES.has((attributes['role'] ?? '').toLowerCase())) return true;
  if (attributes['hidden'] !== undefined || attributes['aria-hidden'] === 'true') return true;
  if (/display\s*:\s*none/i.test(attributes['style'] ?? '')) return true;
  // The page's own header and footer; a header inside an article or section belongs to its content.
  return (element.name === 'header' || element.name === 'footer') && sectioning === 0;
}

/** The text runs under an element, marking those inside links; images, scripts and permalink anchors give none. */
function inlineRuns(element: Element): Array<{ text: string; link: boolean }> {
  const runs: Array<{ text: string; link: boolean }> = [];
  const visit = (node: AnyNode, link: boolean) => {
    if (isText(node)) {
      runs.push({ text: node.data, link });
      return;
    }
    if (!isTag(node) || SKIPPED.has(node.name)) return;
    if (node.name === 'br') {
      runs.push({ text: link ? ' ' : '\n', link });
      return;
    }
    const anchor = isAnchor(node);
    if (anchor && (isPermalink(node) || isFootnoteReference(node))) return;
    // Blocks inside an inline context (a cell's paragraphs) still separate words.
    if (BLOCK_ELEMENTS.has(node.name) || HEADING.test(node.name)) runs.push({ text: ' ', link });
    for (const child of node.children) visit(child, link || anchor);
    if (BLOCK_ELEMENTS.has(node.name) || HEADING.test(node.name)) runs.push({ text: ' ', link });
  };
  const anchor = isAnchor(element);
  if (anchor && (isPermalink(element) || isFootnoteReference(element))) return runs;
  for (const child of element.children) visit(child, anchor);
  return runs;
}

function isAnchor(element: Element): boolean {
  return element.name === 'a' && element.attribs['href'] !== undefined;
}

/**
 * A link to a note of the same page shown as its number (« dépendra[10] », "binaries²"): a reference, not text, and
 * one that would read as a citation marker inside a quote.
 */
function isFootnoteReference(element: Element): boolean {
  return (element.attribs['href'] ?? '').startsWith('#') && /^\s*\[?\d{1,3}\]?\s*$/.test(textOf(element));
}

function textOf(node: AnyNode): string {
  if (isText(node)) return node.data;
  return isTag(node) ? node.children.map(textOf).join('') : '';
}

/** An anchor that shows a symbol rather than words, such as the "¶" after a heading. */
function isPermalink(element: Element): boolean {
  const text = element.children.map((child) => (isText(child) ? child.data : isTag(child) ? 'x' : '')).join('');
  return text.trim() !== '' && !/[\p{L}\p{N}]/u.test(text);
}

function inlineText(element: Element): string {
  return collapse(
    inlineRuns(element)
      .map((run) => run.text)
      .join(''),
  );
}

function linkShare(runs: ReadonlyArray<{ text: string; link: boolean }>): number {
  let linked = 0;
  let total = 0;
  for (const run of runs) {
    const length = run.text.replace(/\s+/g, '').length;
    total += length;
    if (run.link) linked += length;
  }
  return total === 0 ? 0 : linked / total;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

interface TableRow {
  cells: Element[];
}

/** The rows of a table, through `thead`, `tbody` and `tfoot`, without those of tables nested in its cells. */
function tableRows(table: Element): TableRow[] {
  const rows: TableRow[] = [];
  const visit = (node: AnyNode) => {
    if (!isTag(node)) return;
    if (node.name === 'tr') {
      rows.push({ cells: node.children.filter((cell): cell is Element => isTag(cell) && /^t[dh]$/.test(cell.name)) });
      return;
    }
    if (node.name === 'thead' || node.name === 'tbody' || node.name === 'tfoot') node.children.forEach(visit);
  };
  table.children.forEach(visit);
  return rows;
}

/** The page's main content, when it marks it. */
function findMain(nodes: readonly AnyNode[]): Element[] | undefined {
  const main = findFirst(nodes, (element) => element.name === 'main' || element.attribs['role'] === 'main');
  return main === undefined ? undefined : [main];
}

function findFirst(nodes: readonly AnyNode[], test: (element: Element) => boolean): Element | undefined {
  for (const node of nodes) {
    if (!isTag(node)) continue;
    if (test(node)) return node;
    const found = findFirst(node.children, test);
    if (found !== undefined) return found;
  }
  return undefined;
}
