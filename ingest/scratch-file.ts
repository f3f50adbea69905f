import { type FileHandle, open, rm } from 'node:fs/promises';

/**
 * A file an ingest writes in its staging folder, reads back and deletes before the index is complete (a spool):
 * created anew (never over an existing file), written through one handle, then read.
 */
export abstract class ScratchFile {
  protected writing: FileHandle | undefined;

  protected constructor(
    protected readonly path: string,
    file: FileHandle,
  ) {
    this.writing = file;
  }

  /** Opens a new file for a subclass's `create`. */
  protected static async openNew(path: string): Promise<FileHandle> {
    return open(path, 'wx');
  }

  /** Closes the file for writing, before it is read back. */
  protected async endWriting(): Promise<void> {
    await this.writing?.close();
    this.writing = undefined;
  }

  /** Deletes the file. */
  async remove(): Promise<void> {
    await this.writing?.close().catch(() => undefined);
    this.writing = undefined;
    await rm(this.path, { force: true });
  }
}
