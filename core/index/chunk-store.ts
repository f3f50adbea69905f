import { closeSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DEFAULTS } from '../defaults.js';
import type { Chunk } from '../types.js';
import { decodeSections, encodeSections } from './binary-sections.js';
import { readLines } from './json-lines.js';
import { chunkSchema } from './manifest.js';

/**
 * The passages on disk: one JSON object per line (`chunks.jsonl`), in ordinal order, beside a small file of their
 * ids and byte offsets (`chunk-table.bin`). A server keeps only the table in memory and reads a passage's line when
 * it needs it (the few passages a question retrieves), so start-up parses no passage and memory does not hold the
 * corpus. Whatever fields a chunk has are kept: the line is the chunk as JSON.
 */

const FORMAT = 'chunk-table-v1';

/** A passage's line of the passages file. */
export function chunkLine(chunk: Chunk): string {
  return `${JSON.stringify(chunk)}\n`;
}

/** Writes passages one at a time, in ordinal order. */
export class ChunkWriter {
  private offset = 0;
  private readonly offsets: number[] = [0];
  private readonly ids: string[] = [];
  private pending: string[] = [];
  private pendingBytes = 0;

  private constructor(private readonly file: FileHandle) {}

  static async create(path: string): Promise<ChunkWriter> {
    return new ChunkWriter(await open(path, 'wx'));
  }

  get count(): number {
    return this.ids.length;
  }

  async add(chunk: Chunk): Promise<void> {
    await this.addLine(chunk.id, chunkLine(chunk));
  }

  /** Adds the next passage as its line (`chunkLine`), made where the passage was (in another thread, say). */
  async addLine(id: string, line: string): Promise<void> {
    const bytes = Buffer.byteLength(line);
    this.offset += bytes;
    this.offsets.push(this.offset);
    this.ids.push(id);
    this.pending.push(line);
    this.pendingBytes += bytes;
    if (this.pendingBytes >= 1 << 20) await this.flush();
  }

  /** Writes what is buffered and closes the file; returns the table that `ChunkStore.open` reads with it. */
  async close(): Promise<Buffer> {
    await this.flush();
    await this.file.close();
    return encodeSections(
      { format: FORMAT, count: this.ids.length },
      { ids: Buffer.from(this.ids.join('\n')), offsets: Float64Array.from(this.offsets) },
    );
  }

  /** Closes the file without a table, after a failure. */
  async abandon(): Promise<void> {
    await this.file.close().catch(() => undefined);
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    await this.file.write(text);
  }
}

/** Reads passages by id or ordinal from the files `ChunkWriter` wrote. */
export class ChunkStore {
  private readonly ordinals: Map<string, number>;
  /** Decoded passages kept, for the passages that many questions retrieve. */
  private readonly cache = new Map<number, Chunk>();
  private descriptor: number | undefined;

  private constructor(
    private readonly path: string,
    private readonly ids: readonly string[],
    private readonly offsets: Float64Array,
  ) {
    this.ordinals = new Map(ids.map((id, ordinal) => [id, ordinal]));
  }

  /**
   * Opens the passages file `path` with its table; throws an Error saying what is wrong when the table is not one or
   * does not match the file's size.
   */
  static open(path: string, table: Buffer, fileSize: number): ChunkStore {
    const { header, sections } = decodeSections(table);
    if (header['format'] !== FORMAT) throw new Error(`not a ${FORMAT} file`);
    const idBytes = sections.get('ids');
    const offsets = sections.get('offsets');
    if (!(idBytes instanceof Uint8Array) || !(offsets instanceof Float64Array)) throw new Error('sections missing');
    const idText = Buffer.from(idBytes.buffer, idBytes.byteOffset, idBytes.byteLength).toString('utf8');
    const ids = idText === '' ? [] : idText.split('\n');
    if (ids.length !== header['count'] || offsets.length !== ids.length + 1) throw new Error('table and ids disagree');
    if (offsets.at(-1) !== fileSize) throw new Error(`the passages file is ${fileSize} bytes, not ${offsets.at(-1)}`);
    return new ChunkStore(path, ids, offsets);
  }

  get size(): number {
    return this.ids.length;
  }

  /** The id of the passage at an ordinal. */
  idAt(ordinal: number): string | undefined {
    return this.ids[ordinal];
  }

  ordinalOf(id: string): number | undefined {
    return this.ordinals.get(id);
  }

  byId(id: string): Chunk | undefined {
    const ordinal = this.ordinals.get(id);
    return ordinal === undefined ? undefined : this.at(ordinal);
  }

  /** Reads (or takes from the cache) the passage at an ordinal. */
  at(ordinal: number): Chunk | undefined {
    if (ordinal < 0 || ordinal >= this.ids.length) return undefined;
    const cached = this.cache.get(ordinal);
    if (cached !== undefined) {
      // Most recently used last: the first key is the one to drop.
      this.cache.delete(ordinal);
      this.cache.set(ordinal, cached);
      return cached;
    }
    const buffer = this.read(this.offsets[ordinal] ?? 0, this.offsets[ordinal + 1] ?? 0);
    const chunk = chunkSchema.parse(JSON.parse(buffer.toString('utf8'))) as Chunk;
    if (chunk.id !== this.ids[ordinal]) throw new Error(`${this.path}: passage ${ordinal} is not ${this.ids[ordinal]}`);
    if (this.cache.size >= DEFAULTS.caches.chunks) this.cache.delete(this.cache.keys().next().value ?? -1);
    this.cache.set(ordinal, chunk);
    return chunk;
  }

  /**
   * The passages of ordinals `start` to `end` (excluded), in order, read about a megabyte at a time and not cached:
   * what an incremental ingest carries over from the index in place, whose files it has checked.
   */
  *range(start: number, end: number): Generator<Chunk> {
    if (start < 0 || end > this.ids.length || start > end) throw new Error(`no passages ${start} to ${end}`);
    for (let first = start; first < end;) {
      const from = this.offsets[first] ?? 0;
      let last = first + 1;
      while (last < end && (this.offsets[last + 1] ?? 0) - from <= 1 << 20) last += 1;
      const buffer = this.read(from, this.offsets[last] ?? 0);
      const lines = buffer.toString('utf8').split('\n');
      for (let ordinal = first; ordinal < last; ordinal += 1) {
        const chunk = JSON.parse(lines[ordinal - first] ?? '') as Chunk;
        if (chunk.id !== this.ids[ordinal])
          throw new Error(`${this.path}: passage ${ordinal} is not ${this.ids[ordinal]}`);
        yield chunk;
      }
      first = last;
    }
  }

  /** Every passage in order, read sequentially (for checks and tests; a server never needs them all). */
  *all(): Generator<Chunk> {
    for (let ordinal = 0; ordinal < this.ids.length; ordinal += 1) {
      const chunk = this.at(ordinal);
      if (chunk !== undefined) yield chunk;
    }
  }

  /** The bytes of the passages file from `start` to `end`. */
  private read(start: number, end: number): Buffer {
    const buffer = Buffer.allocUnsafe(end - start);
    this.descriptor ??= openSync(this.path, 'r');
    let read = 0;
    while (read < buffer.length) {
      const count = readSync(this.descriptor, buffer, read, buffer.length - read, start + read);
      if (count === 0) throw new Error(`${this.path} ends before byte ${end}`);
      read += count;
    }
    return buffer;
  }

  /** Releases the open file; a later read opens it again. */
  close(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
  }
}

/** The passages of a passages file in order, read as a stream (ingest embeds them after writing them). */
export async function* readChunks(path: string): AsyncGenerator<Chunk> {
  for await (const line of readLines(path)) yield JSON.parse(line) as Chunk;
}
