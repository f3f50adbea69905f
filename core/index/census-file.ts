import { type FileHandle, open } from 'node:fs/promises';
import { z } from 'zod';
import { readLines } from './json-lines.js';

/**
 * What one document brought to the corpus-wide judgement of page furniture, as ingest records it (`censusOf` in
 * `ingest/remove-boilerplate.ts` says what the numbers mean): hashes of its page's names, and per block a short
 * array of numbers. An index keeps it for each source, so that an incremental ingest can judge an unchanged document
 * again, against a corpus that changed around it, without reading the document.
 */
export interface DocumentCensus {
  names: number[];
  blocks: number[][];
}

const hashSchema = z.number().int().nonnegative();

/** One line of the census file: a source and its census. */
export const sourceCensusSchema = z.object({
  source: z.string().min(1),
  names: z.array(hashSchema),
  blocks: z.array(z.array(hashSchema).min(1)),
});

export type SourceCensus = z.infer<typeof sourceCensusSchema>;

/** A source's line of the census file. */
export function censusLine(source: string, census: DocumentCensus): string {
  return `${JSON.stringify({ source, names: census.names, blocks: census.blocks })}\n`;
}

/** Writes the census of each source as one JSON line, in the order of the index's sources. */
export class CensusWriter {
  private pending: string[] = [];
  private pendingChars = 0;

  private constructor(private readonly file: FileHandle) {}

  static async create(path: string): Promise<CensusWriter> {
    return new CensusWriter(await open(path, 'wx'));
  }

  async add(source: string, census: DocumentCensus): Promise<void> {
    await this.addLine(censusLine(source, census));
  }

  /** Adds a source's census as its line (`censusLine`), made where the document was split. */
  async addLine(line: string): Promise<void> {
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= 1 << 20) await this.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.file.close();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    await this.file.write(text);
  }
}

/** Reads a census file whole (a few numbers per block of the corpus); throws when a line is not a census. */
export async function readCensusFile(path: string): Promise<SourceCensus[]> {
  const censuses: SourceCensus[] = [];
  for await (const line of readLines(path)) censuses.push(sourceCensusSchema.parse(JSON.parse(line)));
  return censuses;
}
