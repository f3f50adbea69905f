import { open } from 'node:fs/promises';
import { ScratchFile } from './scratch-file.js';

/** Bytes written or read at a time. */
const BLOCK_BYTES = 1 << 20;

/**
 * The lexical features of every passage (`FeatureRecords`), kept on disk between the fit of the embedder's weights,
 * which needs the whole corpus, and the embedding of each passage with them: a passage's text is analysed once, and
 * memory does not hold the features of the corpus (about 4 bytes per distinct feature of a passage, some 200 MB at
 * 100,000 passages).
 */
export class FeatureSpool extends ScratchFile {
  private pending: Uint32Array[] = [];
  private pendingBytes = 0;

  static async create(path: string): Promise<FeatureSpool> {
    return new FeatureSpool(path, await ScratchFile.openNew(path));
  }

  /** Appends records, as `FeatureRecords.take` gives them. */
  async add(records: Uint32Array): Promise<void> {
    if (this.writing === undefined) throw new Error('The feature spool is being read back.');
    this.pending.push(records);
    this.pendingBytes += records.byteLength;
    if (this.pendingBytes >= BLOCK_BYTES) await this.flush();
  }

  /** Each record kept, in order, as a view that is valid until the next one is asked for. */
  async *records(): AsyncGenerator<Uint32Array> {
    await this.flush();
    await this.endWriting();
    const file = await open(this.path, 'r');
    try {
      // Words read but not yet handed out: the start of a record that the next block completes.
      let rest = new Uint32Array(0);
      for (;;) {
        const words = new Uint32Array(rest.length + BLOCK_BYTES / 4);
        words.set(rest);
        const bytes = new Uint8Array(words.buffer, rest.length * 4);
        let filled = 0;
        while (filled < bytes.length) {
          const { bytesRead } = await file.read(bytes, filled, bytes.length - filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        if (filled % 4 !== 0) throw new Error(`${this.path} ends inside a word`);
        const end = rest.length + filled / 4;
        let start = 0;
        while (start < end && start + 1 + (words[start] ?? 0) <= end) {
          const length = words[start] ?? 0;
          yield words.subarray(start + 1, start + 1 + length);
          start += 1 + length;
        }
        rest = words.slice(start, end);
        if (filled < bytes.length) break;
      }
      if (rest.length > 0) throw new Error(`${this.path} ends inside a record`);
    } finally {
      await file.close();
    }
  }

  private async flush(): Promise<void> {
    if (this.writing === undefined || this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    await this.writing.writev(pending.map((words) => new Uint8Array(words.buffer, words.byteOffset, words.byteLength)));
  }
}
