import { readLines } from '../core/index/json-lines.js';
import type { ReadFile } from './load-documents.js';
import { ScratchFile } from './scratch-file.js';

/**
 * The files an ingest has read, kept on disk between its two passes over the corpus (the census of what repeats
 * across documents, then the splitting): no file is parsed twice, which matters for a PDF, whose pages take far
 * longer to read than its text to load back, and both passes see the same content even if a file changes meanwhile.
 * One JSON line per file, so that memory holds one file at a time. (A folder ingest's threads keep theirs in
 * `SpoolFile`s, read by position.)
 */
export class ReadingSpool extends ScratchFile {
  private count = 0;

  static async create(path: string): Promise<ReadingSpool> {
    return new ReadingSpool(path, await ScratchFile.openNew(path));
  }

  /** Files kept so far. */
  get size(): number {
    return this.count;
  }

  async add(file: ReadFile): Promise<void> {
    if (this.writing === undefined) throw new Error('The spool is being read back.');
    await this.writing.write(`${JSON.stringify(file)}\n`);
    this.count += 1;
  }

  /** The files kept, in the order they were added. */
  async *files(): AsyncGenerator<ReadFile> {
    await this.endWriting();
    for await (const line of readLines(this.path)) yield JSON.parse(line) as ReadFile;
  }
}
