import { type FileHandle, open, rm } from 'node:fs/promises';
import type { ReadFile } from './load-documents.js';

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

  async add(file: ReadFile): Promise<void> {
    if (this.writing === undefined) throw new Error('The spool is being read back.');
    await this.writing.write(`${JSON.stringify(file)}\n`);
    this.count += 1;
  }

  /** The files kept, in the order they were added. */
  async *files(): AsyncGenerator<ReadFile> {
    await this.writing?.close();
    this.writing = undefined;
    const file = await open(this.path, 'r');
    try {
      let rest = '';
      for await (const piece of file.createReadStream({ encoding: 'utf8', highWaterMark: 1 << 20 })) {
        const lines = (rest + String(piece)).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) yield JSON.parse(line) as ReadFile;
      }
      if (rest !== '') yield JSON.parse(rest) as ReadFile;
    } finally {
      await file.close();
    }
  }

  /** Deletes the spool file. */
  async remove(): Promise<void> {
    await this.writing?.close().catch(() => undefined);
    this.writing = undefined;
    await rm(this.path, { force: true });
  }
}
