import { type FileHandle, open } from 'node:fs/promises';

/**
 * The vectors of an index's passages as the embedder gave them, in ordinal order: `dimensions` little-endian float32
 * values per passage, nothing else. An index embedded by a server keeps them, so that a later ingest reuses the
 * vectors of the passages it carries over instead of paying for them again; the hnswlib graphs cannot serve for
 * that, since they store vectors normalised.
 */

/** Appends vectors to a vector file, as float32 (what the vector index stores). */
export class VectorFileWriter {
  private pending: Float32Array[] = [];
  private pendingValues = 0;
  private written = 0;

  private constructor(
    private readonly file: FileHandle,
    readonly dimensions: number,
  ) {}

  static async create(path: string, dimensions: number): Promise<VectorFileWriter> {
    return new VectorFileWriter(await open(path, 'wx'), dimensions);
  }

  /** Vectors added so far. */
  get count(): number {
    return this.written + this.pendingValues / this.dimensions;
  }

  async add(vector: ArrayLike<number>): Promise<void> {
    if (vector.length !== this.dimensions) {
      throw new Error(`a vector of ${vector.length} dimensions in a file of ${this.dimensions}`);
    }
    this.pending.push(Float32Array.from(vector));
    this.pendingValues += vector.length;
    if (this.pendingValues >= 1 << 18) await this.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.file.close();
  }

  /** Closes the file after a failure, writing nothing more. */
  async abandon(): Promise<void> {
    await this.file.close().catch(() => undefined);
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const values = new Float32Array(this.pendingValues);
    let offset = 0;
    for (const vector of this.pending) {
      values.set(vector, offset);
      offset += vector.length;
    }
    this.written += this.pendingValues / this.dimensions;
    this.pending = [];
    this.pendingValues = 0;
    await this.file.write(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
}

/** A half-open range of passage ordinals. */
export interface OrdinalRange {
  start: number;
  end: number;
}

/** Vectors read at a time. */
const READ_VECTORS = 1024;

/**
 * The vectors of the given ordinal ranges of a vector file, in the order given, each as its own array. Throws when
 * the file ends before a range does.
 */
export async function* readVectors(
  path: string,
  dimensions: number,
  ranges: Iterable<OrdinalRange>,
): AsyncGenerator<Float32Array> {
  const file = await open(path, 'r');
  const bytesPerVector = dimensions * 4;
  try {
    for (const range of ranges) {
      for (let start = range.start; start < range.end; start += READ_VECTORS) {
        const count = Math.min(READ_VECTORS, range.end - start);
        const buffer = Buffer.alloc(count * bytesPerVector);
        for (let read = 0; read < buffer.length;) {
          const { bytesRead } = await file.read(buffer, read, buffer.length - read, start * bytesPerVector + read);
          if (bytesRead === 0) throw new Error(`${path} ends before vector ${start + count - 1}`);
          read += bytesRead;
        }
        // The buffer is its own allocation, aligned for float32; little-endian as every supported platform.
        const values = new Float32Array(buffer.buffer, buffer.byteOffset, count * dimensions);
        for (let index = 0; index < count; index += 1) {
          yield values.subarray(index * dimensions, (index + 1) * dimensions);
        }
      }
    }
  } finally {
    await file.close();
  }
}
