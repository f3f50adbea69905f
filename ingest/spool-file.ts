import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import type { DocumentCensus } from '../core/index/census-file.js';
import type { ReadFile } from './load-documents.js';

/** A file read, with its census of page furniture, as a spool keeps it. */
export type SpooledFile = ReadFile & { census: DocumentCensus };

/** Where a file read lies in a spool file: the file, and the bytes of its line. */
export interface SpooledLine {
  path: string;
  offset: number;
  length: number;
}

/**
 * The files a thread has read, kept on disk between an ingest's two passes over the corpus (the census of what
 * repeats across documents, then the splitting): no file is parsed twice, which matters for a PDF, whose pages take
 * far longer to read than their text to load back, and both passes see the same content even if a file changes
 * meanwhile. Each thread that reads files appends them to a spool file of its own, one JSON line each, and says where
 * a line lies; whichever thread splits the file reads the line there, so that the thread writing the index never
 * holds a file's text.
 */
export class SpoolFile {
  private writing: number | undefined;
  private size = 0;
  /** Spool files read (this thread's or another's), by path. */
  private readonly reading = new Map<string, number>();

  /** `path`: the spool file this thread appends to, created on the first file it keeps. */
  constructor(private readonly path: string) {}

  append(file: SpooledFile): SpooledLine {
    const bytes = Buffer.from(`${JSON.stringify(file)}\n`);
    this.writing ??= openSync(this.path, 'wx');
    for (let written = 0; written < bytes.length;) {
      written += writeSync(this.writing, bytes, written, bytes.length - written, this.size + written);
    }
    const line = { path: this.path, offset: this.size, length: bytes.length - 1 };
    this.size += bytes.length;
    return line;
  }

  /** A file kept by any thread's spool file. */
  read(line: SpooledLine): SpooledFile {
    let descriptor = this.reading.get(line.path);
    if (descriptor === undefined) {
      descriptor = openSync(line.path, 'r');
      this.reading.set(line.path, descriptor);
    }
    const bytes = Buffer.allocUnsafe(line.length);
    for (let read = 0; read < bytes.length;) {
      const count = readSync(descriptor, bytes, read, bytes.length - read, line.offset + read);
      if (count === 0) throw new Error(`${line.path} ends before byte ${line.offset + line.length}`);
      read += count;
    }
    return JSON.parse(bytes.toString('utf8')) as SpooledFile;
  }

  /** Closes the files this thread opened; the spool files stay for the ingest to remove. */
  close(): void {
    if (this.writing !== undefined) closeSync(this.writing);
    this.writing = undefined;
    for (const descriptor of this.reading.values()) closeSync(descriptor);
    this.reading.clear();
  }
}
