import { closeSync, openSync, readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { sameSection } from '../section-title.js';
import type { SectionSpan, SourceDocument, SourceText } from '../types.js';

/** Where a source's line lies in the file of source texts, in bytes. */
export interface TextRange {
  offset: number;
  length: number;
}

/**
 * The citable text of a document with its section spans (runs of indexed blocks under the same labels) and, for a
 * PDF, its page spans.
 */
export function sourceTextOf(document: SourceDocument): SourceText {
  const sections: SectionSpan[] = [];
  for (const block of document.blocks) {
    const last = sections.at(-1);
    if (last !== undefined && sameSection(last.section, block.section)) last.end = block.end;
    else sections.push({ start: block.start, end: block.end, section: block.section });
  }
  const served: SourceText = {
    source: document.source,
    title: document.title,
    language: document.language,
    text: document.text,
    sections,
  };
  if (document.pages !== undefined) served.pages = document.pages;
  return served;
}

/** A source's line of the file of source texts. */
export function sourceTextLine(text: SourceText): string {
  return `${JSON.stringify(text)}\n`;
}

/** Writes the source texts as JSON lines, one document at a time, and says where each line lies. */
export class SourceTextWriter {
  private offset = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  readonly ranges = new Map<string, TextRange>();

  private constructor(private readonly file: FileHandle) {}

  static async create(path: string): Promise<SourceTextWriter> {
    return new SourceTextWriter(await open(path, 'wx'));
  }

  async add(document: SourceDocument): Promise<void> {
    await this.addText(sourceTextOf(document));
  }

  /** Adds a source's text as made by `sourceTextOf` (an incremental ingest carries stored ones over as they are). */
  async addText(text: SourceText): Promise<void> {
    await this.addLine(text.source, sourceTextLine(text));
  }

  /** Adds a source's text as its line (`sourceTextLine`), made where the document was split. */
  async addLine(source: string, text: string): Promise<void> {
    const line = Buffer.from(text);
    this.ranges.set(source, { offset: this.offset, length: line.length });
    this.offset += line.length;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= 1 << 20) await this.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.file.close();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const bytes = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    await this.file.write(bytes);
  }
}

/** What serving a source's text needs: is it indexed, and its text. */
export interface SourceTextLookup {
  has(source: string): boolean;
  get(source: string): SourceText | undefined;
}

/**
 * The texts of an index's sources, looked up by source name among the indexed ones. A line is read from the file
 * and parsed only when a client asks for it: memory does not hold the corpus's text.
 */
export class SourceTexts implements SourceTextLookup {
  private descriptor: number | undefined;

  constructor(
    private readonly path: string,
    private readonly ranges: ReadonlyMap<string, TextRange>,
  ) {}

  has(source: string): boolean {
    return this.ranges.has(source);
  }

  get(source: string): SourceText | undefined {
    const range = this.ranges.get(source);
    if (range === undefined) return undefined;
    const buffer = Buffer.allocUnsafe(range.length);
    this.descriptor ??= openSync(this.path, 'r');
    let read = 0;
    while (read < buffer.length) {
      const count = readSync(this.descriptor, buffer, read, buffer.length - read, range.offset + read);
      if (count === 0) throw new Error(`${this.path} ends before the text of ${source}`);
      read += count;
    }
    return JSON.parse(buffer.toString('utf8')) as SourceText;
  }

  /** Releases the open file; a later read opens it again. */
  close(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
  }
}
