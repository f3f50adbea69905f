import type { SectionSpan, SourceDocument, SourceText } from '../types.js';

/** Where a source's line lies in the file of source texts, in bytes. */
export interface TextRange {
  offset: number;
  length: number;
}

/** The citable text of a document with its section spans: runs of indexed blocks under the same labels. */
export function sourceTextOf(document: SourceDocument): SourceText {
  const sections: SectionSpan[] = [];
  for (const block of document.blocks) {
    const last = sections.at(-1);
    if (last !== undefined && sameLabels(last.section, block.section)) last.end = block.end;
    else sections.push({ start: block.start, end: block.end, section: block.section });
  }
  return {
    source: document.source,
    title: document.title,
    language: document.language,
    text: document.text,
    sections,
  };
}

/** The source texts as JSON lines, with the byte range of each source's line. */
export function serializeSourceTexts(documents: readonly SourceDocument[]): {
  content: Buffer;
  ranges: Map<string, TextRange>;
} {
  const ranges = new Map<string, TextRange>();
  const lines: Buffer[] = [];
  let offset = 0;
  for (const document of documents) {
    const line = Buffer.from(`${JSON.stringify(sourceTextOf(document))}\n`);
    ranges.set(document.source, { offset, length: line.length });
    lines.push(line);
    offset += line.length;
  }
  return { content: Buffer.concat(lines), ranges };
}

/**
 * The texts of an index's sources, looked up by source name among the indexed ones. A line is parsed only when a
 * client asks for it.
 */
export class SourceTexts {
  constructor(
    private readonly content: Buffer,
    private readonly ranges: ReadonlyMap<string, TextRange>,
  ) {}

  has(source: string): boolean {
    return this.ranges.has(source);
  }

  get(source: string): SourceText | undefined {
    const range = this.ranges.get(source);
    if (range === undefined) return undefined;
    return JSON.parse(this.content.subarray(range.offset, range.offset + range.length).toString('utf8')) as SourceText;
  }
}

function sameLabels(left: readonly string[], right: readonly string[]): boolean {
  return left === right || (left.length === right.length && left.every((label, index) => label === right[index]));
}
