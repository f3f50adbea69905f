import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { convert as htmlToText } from 'html-to-text';
import { CorpusError } from '../core/errors.js';
import { detectLanguage } from '../core/text/analyze.js';
import type { SourceDocument } from '../core/types.js';

const EXTENSIONS = new Set(['.txt', '.md', '.markdown', '.html', '.htm']);
const MAX_TITLE_CHARS = 200;

/** A corpus file found on disk, before it is read. */
export interface CorpusFile {
  absolutePath: string;
  /** Relative to the project root, with forward slashes. */
  source: string;
}

/**
 * Lists the readable documents under a corpus folder, sorted by path so that every run sees the same order.
 * Hidden files and folders are skipped.
 */
export async function listCorpusFiles(corpusDir: string, rootDir: string): Promise<CorpusFile[]> {
  const info = await stat(corpusDir).catch(() => undefined);
  if (info === undefined) throw new CorpusError(`The corpus folder ${corpusDir} does not exist.`);
  if (!info.isDirectory()) throw new CorpusError(`The corpus path ${corpusDir} is not a folder.`);
  const entries = await readdir(corpusDir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && EXTENSIONS.has(path.extname(entry.name).toLowerCase()))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter(
      (file) =>
        !path
          .relative(corpusDir, file)
          .split(path.sep)
          .some((part) => part.startsWith('.')),
    )
    .map((absolutePath) => ({
      absolutePath,
      source: path.relative(rootDir, absolutePath).split(path.sep).join('/'),
    }));
  return files.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
}

/** Reads one corpus file into a document: its citable text, title, language and checksum. */
export async function readDocument(file: CorpusFile): Promise<SourceDocument> {
  const bytes = await readFile(file.absolutePath);
  const raw = bytes.toString('utf8');
  const extension = path.extname(file.source).toLowerCase();
  const isHtml = extension === '.html' || extension === '.htm';
  const text = isHtml ? htmlToPlainText(raw) : raw;
  const heading = isHtml ? htmlTitle(raw) : extension === '.txt' ? undefined : markdownTitle(text);
  return {
    source: file.source,
    title: heading ?? firstLineTitle(text),
    text,
    language: detectLanguage(text.slice(0, 5000), 'en'),
    checksum: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** Loads every document of a corpus folder; fails with a clear message when there is none. */
export async function loadDocuments(corpusDir: string, rootDir: string): Promise<SourceDocument[]> {
  const files = await listCorpusFiles(corpusDir, rootDir);
  if (files.length === 0) {
    throw new CorpusError(`The corpus folder ${corpusDir} holds no .txt, .md or .html document.`);
  }
  return Promise.all(files.map(readDocument));
}

function htmlToPlainText(html: string): string {
  return htmlToText(html, {
    wordwrap: false,
    selectors: [
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
      { selector: 'h1', options: { uppercase: false } },
      { selector: 'h2', options: { uppercase: false } },
      { selector: 'h3', options: { uppercase: false } },
      { selector: 'h4', options: { uppercase: false } },
      { selector: 'h5', options: { uppercase: false } },
      { selector: 'h6', options: { uppercase: false } },
      { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
    ],
  });
}

function htmlTitle(html: string): string | undefined {
  const match = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html) ?? /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(html);
  if (match?.[1] === undefined) return undefined;
  const title = htmlToText(match[1], { wordwrap: false }).trim();
  return title === '' ? undefined : shorten(title);
}

function markdownTitle(text: string): string | undefined {
  const heading = /^#{1,6}[ \t]+(.+?)[ \t#]*$/m.exec(text)?.[1];
  return heading === undefined ? undefined : shorten(heading.trim());
}

function firstLineTitle(text: string): string {
  const line = text.split(/\r?\n/).find((candidate) => candidate.trim() !== '');
  return shorten(line?.trim() ?? '');
}

function shorten(title: string): string {
  return title.length <= MAX_TITLE_CHARS ? title : `${title.slice(0, MAX_TITLE_CHARS - 1).trimEnd()}…`;
}
