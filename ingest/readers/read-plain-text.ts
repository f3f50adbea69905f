import { splitParagraphs, trimSpan } from '../../core/text/split-sentences.js';
import type { BlockKind, Span } from '../../core/types.js';
import { isQuestionLine, labelText, Outline } from './outline.js';
import type { ReadBlock, Reading } from './reading.js';

/**
 * Reads plain text into blocks of the file's own text. Headings are recognised by their form alone: numbered
 * (« 9.2.2. Connexion à distance », level by depth), underlined (`====`, `----`), or a short line in capitals; a
 * first line that merely has no full stop stays a paragraph, since a news headline is a sentence. Lines starting
 * with a bullet or a number are list items, and text indented deeper than the rest is code.
 */
export function readPlainText(text: string): Reading {
  const paragraphs = splitParagraphs(text);
  const baseIndent = Math.min(...paragraphs.map((paragraph) => indentOf(text, paragraph.start)), Infinity);
  const outline = new Outline();
  const blocks: ReadBlock[] = [];
  const emit = (span: Span, kind: BlockKind) => blocks.push({ ...span, kind, section: outline.path(), linkShare: 0 });

  for (const paragraph of paragraphs) {
    const content = text.slice(paragraph.start, paragraph.end);
    const lines = content.split(/\r?\n/);
    const heading = headingOf(lines);
    if (heading !== undefined) {
      const title = labelText(heading.text);
      if (isQuestionLine(title)) outline.question(title);
      else outline.heading(title, heading.level);
      const end = paragraph.start + (lines[0]?.length ?? 0);
      emit(trimSpan(text, { start: paragraph.start, end }), isQuestionLine(title) ? 'question' : 'heading');
      continue;
    }
    if (lines.length === 1 && isQuestionLine(content) && content.length <= MAX_QUESTION_CHARS) {
      outline.question(labelText(content));
      emit(paragraph, 'question');
      continue;
    }
    if (indentOf(text, paragraph.start) >= baseIndent + CODE_INDENT) {
      emit(paragraph, 'code');
      continue;
    }
    const items = listItems(text, paragraph);
    if (items !== undefined) {
      for (const item of items) emit(item, 'list-item');
      continue;
    }
    emit(paragraph, 'paragraph');
  }
  return { text, title: undefined, blocks };
}

const MAX_QUESTION_CHARS = 300;
const MAX_HEADING_CHARS = 100;
/** Text indented this much deeper than the document's paragraphs is code. */
const CODE_INDENT = 4;

const NUMBERED = /^\s*(\d{1,3}(?:\.\d{1,3})*)\.?\s+(\p{Lu}|\p{N})/u;
const UNDERLINE = /^\s*([=\-~^*#])\1{2,}\s*$/;
const BULLET = /^\s*(?:[-*•‣◦]|\d{1,3}[.)])\s+\S/u;

/** The heading a paragraph is, with its level, or undefined for any other paragraph. */
function headingOf(lines: string[]): { text: string; level: number } | undefined {
  const first = lines[0] ?? '';
  const line = first.trim();
  if (line === '' || line.length > MAX_HEADING_CHARS) return undefined;
  if (lines.length === 2 && UNDERLINE.test(lines[1] ?? '')) {
    const mark = lines[1]?.trim()[0];
    return { text: line, level: mark === '=' ? 1 : mark === '-' ? 2 : 3 };
  }
  if (lines.length !== 1 || /[.,;:!]$/.test(line)) return undefined;
  const numbered = NUMBERED.exec(line);
  if (numbered?.[1] !== undefined) return { text: line, level: Math.min(6, numbered[1].split('.').length) };
  const letters = line.replace(/[^\p{L}]/gu, '');
  if (letters.length >= 3 && letters === letters.toUpperCase() && letters !== letters.toLowerCase()) {
    return { text: line, level: 1 };
  }
  return undefined;
}

/** A paragraph that starts with a bullet, as one span per item (continuation lines join their item). */
function listItems(text: string, paragraph: Span): Span[] | undefined {
  const lines: Span[] = [];
  let start = paragraph.start;
  for (const match of text.slice(paragraph.start, paragraph.end).matchAll(/\r?\n/g)) {
    lines.push({ start, end: paragraph.start + match.index });
    start = paragraph.start + match.index + match[0].length;
  }
  lines.push({ start, end: paragraph.end });
  if (!BULLET.test(text.slice(lines[0]?.start ?? 0, lines[0]?.end ?? 0))) return undefined;
  const items: Span[] = [];
  for (const line of lines) {
    const current = items.at(-1);
    if (BULLET.test(text.slice(line.start, line.end)) || current === undefined) items.push({ ...line });
    else current.end = line.end;
  }
  return items.map((item) => trimSpan(text, item));
}

function indentOf(text: string, offset: number): number {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart, offset + 1))?.[0].replace(/\t/g, '    ').length ?? 0;
}
