import { type FileHandle, open, rm } from 'node:fs/promises';
import type { DocumentCensus } from '../core/index/census-file.js';
import { readLines } from '../core/index/json-lines.js';
import type { ReadFile } from './load-documents.js';

/** A file read, with its census of page furniture when the ingest made one, as the spool keeps it. */
export type SpooledFile = ReadFile & { census?: DocumentCensus };

/** The spool's line of a file read: what `ReadingSpool.addLine` takes, made by the thread that read the file. */
export function spoolLine(file: SpooledFile): string {
  return JSON.stringify(file);
}

/**
 * The files an ingest has read, kept on disk between its two passes over the corpus (the census of what repeats
 * across documents, then the splitting): no file is parsed twice, which matters for a PDF, whose pages take far
 * longer to read than its text to load back, and both passes see the same content even if a file changes meanwhile.
 * One JSON line per file, so that memory holds one file at a time.
 */
export class ReadingSpool {
  private count = 0;
  private writing: FileHandle | undefined;

  private constructor(
    private readonly path: string,
    file: FileHandle,
  ) {
    this.writing = file;
  }

  static async create(path: string): Promise<ReadingSpool> {
    return new ReadingSpool(path, await open(path, 'wx'));
  }

  /** Files kept so far. */
  get size(): number {
    return this.count;
  }

  async add(file: SpooledFile): Promise<void> {
    await this.addLine(spoolLine(file));
  }

  /** Keeps a file already written as its line (`spoolLine`). */
  async addLine(line: string): Promise<void> {
    if (this.writing === undefined) throw new Error('The spool is being read back.');
    await this.writing.write(`${line}\n`);
    this.count += 1;
  }

  /** The files kept, in the order they were added. */
  async *files(): AsyncGenerator<SpooledFile> {
    for await (const line of this.lines()) yield JSON.parse(line) as SpooledFile;
  }

  /** The lines of the files kept, in the order they were added, unparsed (the thread that splits a file parses it). */
  async *lines(): AsyncGenerator<string> {
    await this.writing?.close();
    this.writing = undefined;
    yield* readLines(this.path);
  }

  /** Deletes the spool file. */
  async remove(): Promise<void> {
    await this.writing?.close().catch(() => undefined);
    this.writing = undefined;
    await rm(this.path, { force: true });
  }
}
