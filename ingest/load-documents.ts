import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CorpusError } from '../core/errors.js';
import { detectLanguage, dominantLanguage } from '../core/text/analyze.js';
import type { Block, Language, SourceDocument } from '../core/types.js';
import { readHtml } from './readers/read-html.js';
import { readMarkdown } from './readers/read-markdown.js';
import { readPlainText } from './readers/read-plain-text.js';
import type { Reading } from './readers/reading.js';
import { removeBoilerplate } from './remove-boilerplate.js';

const READERS: Readonly<Record<string, (text: string) => Reading>> = {
  '.txt': readPlainText,
  '.md': readMarkdown,
  '.markdown': readMarkdown,
  '.html': readHtml,
  '.htm': readHtml,
};
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

/** Reads one corpus file into its citable text and blocks, with the checksum of its bytes. */
export async function readCorpusFile(file: CorpusFile): Promise<ReadFile> {
  const bytes = await readFile(file.absolutePath);
  const read = READERS[path.extname(file.source).toLowerCase()] ?? readPlainText;
  return { source: file.source, checksum: sha256(bytes), reading: read(bytes.toString('utf8')) };
}

/** The SHA-256 of a corpus file's bytes, as the manifest records it. */
export async function fileChecksum(file: CorpusFile): Promise<string> {
  return sha256(await readFile(file.absolutePath));
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Loads every document of a corpus folder: reads each file, leaves out the blocks that are page furniture across
 * the corpus, and decides the language of each block. Fails with a clear message when there is no document.
 */
export async function loadDocuments(corpusDir: string): Promise<SourceDocument[]> {
  const files = await listCorpusFiles(corpusDir);
  if (files.length === 0) {
    throw new CorpusError(`The corpus folder ${corpusDir} holds no .txt, .md or .html document.`);
  }
  return toDocuments(await Promise.all(files.map(readCorpusFile)));
}

/** Turns the files of one corpus into documents; boilerplate is judged over all of them together. */
export function toDocuments(files: readonly ReadFile[]): SourceDocument[] {
  const kept = removeBoilerplate(files.map((file) => file.reading));
  return files.map((file, index) => toDocument(file, kept[index] ?? []));
}

/** A read file as a document, keeping the blocks given (those that are content). */
export function toDocument(file: ReadFile, readBlocks: Reading['blocks']): SourceDocument {
  const { text } = file.reading;
  const overall = detectLanguage(
    readBlocks
      .map((block) => text.slice(block.start, block.end))
      .join('\n')
      .slice(0, 20_000),
    'en',
  );
  const blocks: Block[] = readBlocks.map(({ start, end, kind, section }) => ({
    start,
    end,
    kind,
    section,
    language: blockLanguage(text.slice(start, end), overall),
  }));
  return {
    source: file.source,
    title: shorten(file.reading.title ?? firstLine(text)),
    text,
    language: dominantLanguage(blocks, overall),
    blocks,
    checksum: file.checksum,
  };
}

/** Below this many function words, a block is too short to tell its language from its document's. */
const MIN_LANGUAGE_EVIDENCE = 3;

function blockLanguage(text: string, documentLanguage: Language): Language {
  return detectLanguage(text, documentLanguage, MIN_LANGUAGE_EVIDENCE);
}

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
