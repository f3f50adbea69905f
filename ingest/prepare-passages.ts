import { FeatureRecords, type LexicalFeatureSettings, LexicalFeatures } from '../core/embeddings/lexical-features.js';
import { censusLine } from '../core/index/census-file.js';
import { chunkLine } from '../core/index/chunk-store.js';
import { analysePassage, TermNumbering } from '../core/index/keyword-index.js';
import type { Manifest } from '../core/index/manifest.js';
import { sourceTextLine, sourceTextOf } from '../core/index/source-texts.js';
import type { Chunk } from '../core/types.js';
import { type CorpusFile, readCorpusFile, toDocument } from './load-documents.js';
import { type FileCensus, fileCensusOf } from './plan-ingest.js';
import { FurnitureJudgement, type FurnitureVerdict } from './remove-boilerplate.js';
import { SpoolFile, type SpooledLine } from './spool-file.js';
import { type ChunkerSettings, splitIntoChunks } from './split-into-chunks.js';

/**
 * The work an ingest does on one file at a time, apart from the corpus-wide steps: reading a file for the census of
 * page furniture (keeping what was read in a spool file), then splitting it into passages and analysing them (their
 * lines of the passages file, keyword terms and lexical features), so that the thread that writes the index only
 * appends what it is given, in order. Nothing here depends on another file, so that several threads can do it at
 * once (`preparation-pool.ts`).
 */

export interface PreparationSettings {
  chunker: ChunkerSettings;
  /** The lexical embedder's settings when passages are embedded by it: their features are then counted here. */
  lexical: LexicalFeatureSettings | undefined;
}

/** A file read for the census: what the plan needs of it, and where the spool keeps it for the split. */
export interface CensusedFile extends FileCensus {
  spooled: SpooledLine;
}

/** Passages made ready to append to the index: their lines of the passages file, keyword terms and features. */
export interface PreparedPassages {
  ids: string[];
  /** Each passage's line of the passages file (`chunkLine`). */
  lines: string[];
  /** The passages' keyword terms as `KeywordIndexBuilder.addNumbered` takes them. */
  terms: { numbering: number; newTerms: string[]; counted: Uint32Array };
  /** Each passage's lexical features, one record each (`FeatureRecords`), when the lexical embedder is used. */
  features: Uint32Array | undefined;
}

/** A document split into passages, with what the index keeps of it besides them. */
export interface SplitDocument {
  /** The manifest's entry of the source, but where its text lies (known once it is written). */
  entry: Omit<Manifest['sources'][number], 'text'>;
  /** Pages of a paged document (PDF). */
  pages: number | undefined;
  passages: PreparedPassages;
  /** The source's line of the file of source texts (`sourceTextLine`). */
  textLine: string;
  /** The source's line of the census file (`censusLine`). */
  censusLine: string;
}

/** Does the per-file work of an ingest in one thread, keeping what it learns of words from one file to the next. */
export class PassagePreparer {
  private readonly lexical: LexicalFeatures | undefined;
  private readonly records = new FeatureRecords();
  private readonly numbering = new TermNumbering();
  private readonly spool: SpoolFile;
  private judgement: FurnitureJudgement | undefined;

  /**
   * `spoolPath`: the spool file this thread keeps the files it reads in; `numbering`: which thread this is, as the
   * index builder knows its numbering of terms.
   */
  constructor(
    private readonly settings: PreparationSettings,
    spoolPath: string,
    private readonly thread: number,
  ) {
    this.lexical = settings.lexical === undefined ? undefined : new LexicalFeatures(settings.lexical);
    this.spool = new SpoolFile(spoolPath);
  }

  /** Reads a corpus file, makes its census and spools it; throws `UnreadableDocumentError` for a file unreadable. */
  async read(file: CorpusFile): Promise<CensusedFile> {
    const read = await readCorpusFile(file);
    const censused = fileCensusOf(read);
    return { ...censused, spooled: this.spool.append({ ...read, census: censused.census }) };
  }

  /** Takes the corpus's judgement of page furniture, which every file split after it is judged by. */
  judge(verdict: FurnitureVerdict): void {
    this.judgement = new FurnitureJudgement(verdict);
  }

  /** Splits a file read for the census (by any thread) into passages, keeping only the blocks that are content. */
  split(spooled: SpooledLine): SplitDocument {
    if (this.judgement === undefined) throw new Error('a file is split before the census judged page furniture');
    const file = this.spool.read(spooled);
    const document = toDocument(file, this.judgement.content(file.reading, file.census));
    const chunks = splitIntoChunks(document, this.settings.chunker);
    return {
      entry: {
        source: document.source,
        checksum: document.checksum,
        title: document.title,
        language: document.language,
        chars: document.text.length,
        chunks: chunks.length,
      },
      pages: document.pages?.length,
      passages: this.prepare(chunks),
      textLine: sourceTextLine(sourceTextOf(document)),
      censusLine: censusLine(document.source, file.census),
    };
  }

  /** Analyses passages carried over from the index in place, as `split` analyses those it makes. */
  analyse(chunks: readonly Chunk[]): PreparedPassages {
    return this.prepare(chunks);
  }

  /** Closes the spool files this thread opened. */
  close(): void {
    this.spool.close();
  }

  private prepare(chunks: readonly Chunk[]): PreparedPassages {
    const ids: string[] = [];
    const lines: string[] = [];
    const counted: number[] = [];
    for (const chunk of chunks) {
      ids.push(chunk.id);
      lines.push(chunkLine(chunk));
      // The keyword index and the lexical embedder read the same words of the passage.
      const { fields, words } = analysePassage(chunk);
      this.numbering.appendCounted(fields, counted);
      this.lexical?.appendWords(words, this.records);
    }
    return {
      ids,
      lines,
      terms: { numbering: this.thread, newTerms: this.numbering.takeNew(), counted: Uint32Array.from(counted) },
      features: this.lexical === undefined ? undefined : this.records.take(),
    };
  }
}
