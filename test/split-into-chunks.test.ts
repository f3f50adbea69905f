import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../core/defaults.js';
import type { Chunk, SourceDocument } from '../core/types.js';
import { readCorpusFile, toDocuments } from '../ingest/load-documents.js';
import { readPlainText } from '../ingest/readers/read-plain-text.js';
import { splitIntoChunks } from '../ingest/split-into-chunks.js';
import { COMMUNIQUE, PROJECT_ROOT } from './helpers/test-index.js';

const settings = DEFAULTS.chunking;

function documentOf(text: string, source = 'corpus/test.txt'): SourceDocument {
  const [document] = toDocuments([{ source, checksum: '0'.repeat(64), reading: readPlainText(text) }]);
  if (document === undefined) throw new Error('no document');
  return document;
}

function expectExactOffsets(document: SourceDocument, chunks: Chunk[]): void {
  for (const chunk of chunks) {
    expect(document.text.slice(chunk.start, chunk.end)).toBe(chunk.text);
    for (const sentence of chunk.sentences) {
      expect(sentence.start).toBeGreaterThanOrEqual(chunk.start);
      expect(sentence.end).toBeLessThanOrEqual(chunk.end);
    }
  }
}

async function communique(): Promise<SourceDocument> {
  const [document] = toDocuments([
    await readCorpusFile({ absolutePath: path.join(PROJECT_ROOT, COMMUNIQUE), source: COMMUNIQUE }),
  ]);
  if (document === undefined) throw new Error('no document');
  return document;
}

describe('splitIntoChunks on the communiqué', () => {
  it('records the exact character range of every chunk in the source file', async () => {
    const document = await communique();
    const fileText = await readFile(path.join(PROJECT_ROOT, COMMUNIQUE), 'utf8');
    const chunks = splitIntoChunks(document, settings);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) {
      expect(fileText.slice(chunk.start, chunk.end)).toBe(chunk.text);
      expect(chunk.source).toBe(COMMUNIQUE);
      expect(chunk.title).toBe(fileText.split('\n')[0]);
    }
  });

  it('covers every sentence of the document', async () => {
    const document = await communique();
    const chunks = splitIntoChunks(document, settings);
    const covered = new Set(chunks.flatMap((chunk) => chunk.sentences.map((span) => `${span.start}:${span.end}`)));
    for (const line of document.text.split('\n')) {
      const start = document.text.indexOf(line);
      expect(
        chunks.some((chunk) => chunk.start <= start && start < chunk.end),
        line.slice(0, 40),
      ).toBe(true);
    }
    // A title and eleven sentences, two of which start with « M. Rutte ».
    expect(covered.size).toBe(12);
  });

  it('repeats one sentence between consecutive windows of a long paragraph, never a whole chunk', async () => {
    const chunks = splitIntoChunks(await communique(), settings);
    const overlapping = chunks.slice(1).filter((chunk, index) => chunk.start < (chunks[index]?.end ?? 0));
    expect(overlapping.length).toBeGreaterThan(0);
    chunks.slice(1).forEach((chunk, index) => {
      const previous = chunks[index];
      if (previous === undefined || chunk.start >= previous.end) return;
      expect(chunk.sentences[0]).toEqual(previous.sentences.at(-1));
      expect(chunk.end).toBeGreaterThan(previous.end);
    });
  });

  it('gives the same ids on every run and new ids only to changed chunks', async () => {
    const document = await communique();
    const first = splitIntoChunks(document, settings).map((chunk) => chunk.id);
    expect(splitIntoChunks(document, settings).map((chunk) => chunk.id)).toEqual(first);
    const edited = { ...document, text: document.text.replace('Wiesbaden', 'Bruxelles') };
    const second = splitIntoChunks(edited, settings).map((chunk) => chunk.id);
    expect(second.filter((id) => !first.includes(id)).length).toBe(1);
    expect(new Set(first).size).toBe(first.length);
  });
});

describe('splitIntoChunks on tricky inputs', () => {
  it('handles quotes, elisions, abbreviations and empty lines with exact offsets', () => {
    const text = [
      '',
      "Titre : l'essentiel",
      '',
      '',
      "M. Rutte a dit « qu'il faut agir ». L'Alliance d'aujourd'hui répond. " + 'Le Dr. Martin approuve. '.repeat(30),
      '   ',
      "« Citation finale », a-t-il ajouté. C'est tout.",
      '',
    ].join('\n');
    const document = documentOf(text);
    const chunks = splitIntoChunks(document, settings);
    expectExactOffsets(document, chunks);
    expect(chunks.every((chunk) => chunk.text === chunk.text.trim() && chunk.text.length > 0)).toBe(true);
    expect(chunks.some((chunk) => chunk.text.startsWith('M. Rutte a dit « qu'))).toBe(true);
    expect(chunks.every((chunk) => !/^Rutte/.test(chunk.text))).toBe(true);
  });

  it('packs short paragraphs together and keeps long ones near the target size', () => {
    const short = 'Une phrase courte.\n'.repeat(5);
    const long = `${'Une phrase un peu plus longue que les autres, pour remplir. '.repeat(40).trim()}\n`;
    const document = documentOf(`${short}${long}`);
    const chunks = splitIntoChunks(document, settings);
    expectExactOffsets(document, chunks);
    expect(chunks[0]?.text).toBe(short.trim());
    for (const chunk of chunks.slice(1)) expect(chunk.text.length).toBeLessThanOrEqual(settings.targetChars + 70);
  });

  it('keeps a single sentence longer than the maximum as one chunk', () => {
    const sentence = `${'mot '.repeat(400).trim()}.`;
    const document = documentOf(`Avant.\n${sentence}\nAprès.`);
    const chunks = splitIntoChunks(document, settings);
    expectExactOffsets(document, chunks);
    expect(chunks.some((chunk) => chunk.text === sentence)).toBe(true);
  });

  it('returns no chunk for a document with no text', () => {
    expect(splitIntoChunks(documentOf('\n  \n'), settings)).toEqual([]);
  });
});
