import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { CorpusError, UnreadableDocumentError } from '../core/errors.js';
import { dominantLanguage, languageEvidence, languageOf } from '../core/text/analyze.js';
import type { Block, SourceDocument } from '../core/types.js';
import { checkFileKind } from './readers/check-file-kind.js';
import { readHtml } from './readers/read-html.js';
import { readPlainText } from './readers/read-plain-text.js';
import type { Reading } from './readers/reading.js';
import { removeBoilerplate } from './remove-boilerplate.js';

type Reader = (bytes: Uint8Array) => Reading | Promise<Reading>;

/** A reader of text: the file must be text, read as UTF-8. */
function textReader(read: (text: string) => Reading | Promise<Reading>): Reader {
  return (bytes) => {
    checkFileKind(bytes, 'text');
    return read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  };
}

/** Reads Markdown with mdast, loaded (some hundred modules) when a corpus has a Markdown file. */
async function readMarkdownText(text: string): Promise<Reading> {
  const { readMarkdown } = await import('./readers/read-markdown.js');
  return readMarkdown(text);
}

const READERS: Readonly<Record<string, Reader>> = {
  '.txt': textReader(readPlainText),
  '.md': textReader(readMarkdownText),
  '.markdown': textReader(readMarkdownText),
  '.html': textReader(readHtml),
  '.htm': textReader(readHtml),
  // pdf.js and mammoth take a while to load: they are loaded when a corpus has a file for them.
  '.pdf': async (bytes) => {
    checkFileKind(bytes, 'pdf');
    const { readPdf } = await import('./readers/read-pdf.js');
    return readPdf(bytes);
  },
  '.docx': async (bytes) => {
    checkFileKind(bytes, 'docx');
    const { readDocx } = await import('./readers/read-docx.js');
    return readDocx(bytes);
  },
};

/** The extensions read, as messages name them. */
export const READ_EXTENSIONS = '.txt, .md, .html, .pdf or .docx';
const MAX_TITLE_CHARS = 200;

/**
 * Bumped whenever a reader or the boilerplate judgement changes the citable text or the blocks of a document: an
 * index built by other readers is rebuilt, since its offsets would not match what the readers now give.
 */
export const READER_VERSION = 1;

/** A corpus file found on disk, before it is read. */
export interface CorpusFile {
  absolutePath: string;
  /** The corpus folder's name, then the path inside it, with forward slashes: `corpus-fr/sect.quotas.html`. */
  source: string;
}

/** A file read, before the corpus-wide judgement of what is page furniture. */
export interface ReadFile {
  source: string;
  checksum: string;
  reading: Reading;
}

/**
 * Lists the readable documents under a corpus folder, sorted by path so that every run sees the same order.
 * Hidden files and folders are skipped. Sources are named inside the corpus folder, prefixed by its name, so that
 * they read the same wherever the folder is.
 */
export async function listCorpusFiles(corpusDir: string): Promise<CorpusFile[]> {
  const info = await stat(corpusDir).catch(() => undefined);
  if (info === undefined) throw new CorpusError(`The corpus folder ${corpusDir} does not exist.`);
  if (!info.isDirectory()) throw new CorpusError(`The corpus path ${corpusDir} is not a folder.`);
  const name = path.basename(path.resolve(corpusDir));
  const entries = await readdir(corpusDir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && READERS[path.extname(entry.name).toLowerCase()] !== undefined)
    .map((entry) => path.relative(corpusDir, path.join(entry.parentPath, entry.name)))
    .filter((relative) => !relative.split(path.sep).some((part) => part.startsWith('.')))
    .map((relative) => ({
      absolutePath: path.join(corpusDir, relative),
      source: [name, ...relative.split(path.sep)].join('/'),
    }));
  return files.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
}

/**
 * Reads one corpus file into its citable text and blocks, with the checksum of its bytes. Throws
 * UnreadableDocumentError, with a one-line reason, for a file that cannot be read (empty, damaged, encrypted, without
 * text, or not what its extension says).
 */
export async function readCorpusFile(file: CorpusFile): Promise<ReadFile> {
  const bytes = readWhole(file);
  const read = READERS[path.extname(file.source).toLowerCase()] ?? textReader(readPlainText);
  return { source: file.source, checksum: sha256(bytes), reading: await read(bytes) };
}

/** The SHA-256 of a corpus file's bytes, as the manifest records it. */
export async function fileChecksum(file: CorpusFile): Promise<string> {
  return sha256(readWhole(file));
}

/**
 * A file's bytes, read at once. Reading thousands of files through `fs/promises` cost a fifth of a millisecond of
 * processor time each (3,469 files of the 100k-passage corpus: 0.5–0.8 s, against 0.03–0.06 s read synchronously);
 * the threads that read them have nothing else to do meanwhile.
 */
function readWhole(file: CorpusFile): Buffer {
  return readFileSync(file.absolutePath);
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A corpus file left out of the index, and why, in one line. */
export interface SkippedFile {
  source: string;
  /** SHA-256 of the file's bytes, so that an unchanged unreadable file does not make the index stale. */
  checksum: string;
  reason: string;
}

/** The documents of a corpus, and the files that could not be read. */
export interface LoadedCorpus {
  documents: SourceDocument[];
  skipped: SkippedFile[];
}

/**
 * Loads every document of a corpus folder: reads each file, leaves out the blocks that are page furniture across
 * the corpus, and decides the language of each block. A file that cannot be read is skipped with its reason, so that
 * one bad file never stops an ingest. Files are read one at a time, so that memory holds one file being parsed.
 * Fails with a clear message when there is no document, or when no file could be read (listing why).
 */
export async function loadCorpus(corpusDir: string): Promise<LoadedCorpus> {
  const files = await listCorpusFiles(corpusDir);
  if (files.length === 0) {
    throw new CorpusError(`The corpus folder ${corpusDir} holds no ${READ_EXTENSIONS} document.`);
  }
  const read: ReadFile[] = [];
  const skipped: SkippedFile[] = [];
  for (const file of files) {
    try {
      read.push(await readCorpusFile(file));
    } catch (error) {
      if (!(error instanceof UnreadableDocumentError)) throw error;
      skipped.push({ source: file.source, checksum: await fileChecksum(file), reason: error.message });
    }
  }
  if (read.length === 0) {
    throw new CorpusError(
      `No document of the corpus folder ${corpusDir} could be read:\n` +
        skipped.map((file) => `  ${file.source}: ${file.reason}`).join('\n'),
    );
  }
  return { documents: toDocuments(read), skipped };
}

/** The documents of a corpus folder (see `loadCorpus`), without the list of files skipped. */
export async function loadDocuments(corpusDir: string): Promise<SourceDocument[]> {
  return (await loadCorpus(corpusDir)).documents;
}

/** Turns the files of one corpus into documents; boilerplate is judged over all of them together. */
export function toDocuments(files: readonly ReadFile[]): SourceDocument[] {
  const kept = removeBoilerplate(files.map((file) => file.reading));
  return files.map((file, index) => toDocument(file, kept[index] ?? []));
}

/** A read file as a document, keeping the blocks given (those that are content). */
export function toDocument(file: ReadFile, readBlocks: Reading['blocks']): SourceDocument {
  const { text } = file.reading;
  // Each block's clues are counted once: the document's language is that of its first OVERALL_CHARS characters of
  // blocks (joined by line breaks, which no clue spans), and a block with too few clues of its own takes it.
  const evidence = readBlocks.map((block) => languageEvidence(text.slice(block.start, block.end)));
  const overall = { french: 0, english: 0 };
  let position = 0;
  for (const [index, block] of readBlocks.entries()) {
    const length = block.end - block.start;
    const counted =
      position + length <= OVERALL_CHARS
        ? evidence[index]
        : languageEvidence(text.slice(block.start, block.start + OVERALL_CHARS - position));
    overall.french += counted?.french ?? 0;
    overall.english += counted?.english ?? 0;
    position += length + 1;
    if (position >= OVERALL_CHARS) break;
  }
  const documentLanguage = languageOf(overall, 'en');
  const blocks: Block[] = readBlocks.map(({ start, end, kind, section, page }, index) => {
    const own = evidence[index] ?? { french: 0, english: 0 };
    const block: Block = {
      start,
      end,
      kind,
      section,
      language: languageOf(own, documentLanguage, MIN_LANGUAGE_EVIDENCE),
    };
    if (page !== undefined) block.page = page;
    return block;
  });
  const document: SourceDocument = {
    source: file.source,
    title: shorten(file.reading.title ?? firstLine(text)),
    text,
    language: dominantLanguage(blocks, documentLanguage),
    blocks,
    checksum: file.checksum,
  };
  if (file.reading.pages !== undefined) document.pages = file.reading.pages;
  return document;
}

/** The characters of a document's blocks its language is told from. */
const OVERALL_CHARS = 20_000;

/** Below this many function words, a block is too short to tell its language from its document's. */
const MIN_LANGUAGE_EVIDENCE = 3;

function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .find((line) => line.trim() !== '')
      ?.trim() ?? ''
  );
}

function shorten(title: string): string {
  const line = title.replace(/\s+/g, ' ').trim();
  return line.length <= MAX_TITLE_CHARS ? line : `${line.slice(0, MAX_TITLE_CHARS - 1).trimEnd()}…`;
}
