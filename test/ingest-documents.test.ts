import { readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../core/engine.js';
import { loadIndex } from '../core/index/index-store.js';
import { collect } from '../core/index/passage-index.js';
import { type IngestSummary, ingest, staleReason } from '../ingest/build-index.js';
import type { SourceText } from '../core/types.js';
import { createApp } from '../server/app.js';
import { damagedFiles, type DamagedFile } from './helpers/damaged-files.js';
import { makeDocx } from './helpers/make-docx.js';
import { annualReport } from './helpers/make-pdf.js';
import { COMMUNIQUE, createWorkspace, PROJECT_ROOT, type Workspace } from './helpers/test-index.js';

let workspace: Workspace;
let summary: IngestSummary;
let engine: Engine;
let damaged: Record<string, DamagedFile>;

beforeAll(async () => {
  damaged = await damagedFiles();
  const report = await annualReport();
  const guide = await makeDocx([
    { heading: 'Guide des versions', level: 1 },
    {
      table: [
        ['Version', 'Date'],
        ['2.1', 'mars 2024'],
      ],
    },
  ]);
  workspace = await createWorkspace({
    'corpus/rapport.pdf': report,
    'corpus/guide.docx': guide,
    'corpus/page.html': '<html><head><title>Accueil</title></head><body><p>Bienvenue sur le site.</p></body></html>',
    'corpus/communique.txt': await readFile(path.join(PROJECT_ROOT, COMMUNIQUE)),
    ...Object.fromEntries(Object.entries(damaged).map(([name, file]) => [`corpus/bad/${name}`, file.content])),
  });
  summary = await ingest(workspace.config);
  engine = await createEngine(await loadIndex(workspace.config.indexDir, workspace.config.embedder));
}, 120_000);
afterAll(() => workspace.cleanup());

describe('ingesting PDF, Word, HTML and text files together', () => {
  it('indexes every readable file and lists each unreadable one with its reason', () => {
    expect(summary.documents.map((document) => document.source)).toEqual([
      'corpus/communique.txt',
      'corpus/guide.docx',
      'corpus/page.html',
      'corpus/rapport.pdf',
    ]);
    expect(summary.skipped.map((file) => file.source)).toEqual(
      Object.keys(damaged)
        .map((name) => `corpus/bad/${name}`)
        .sort(),
    );
    for (const file of summary.skipped) {
      const expected = damaged[file.source.replace('corpus/bad/', '')]?.reason;
      expect(file.reason, file.source).toMatch(
        expected instanceof RegExp ? expected : new RegExp(`^${escape(expected)}$`),
      );
      expect(file.reason).not.toMatch(/\n/);
    }
  });

  it('keeps the skipped files in the manifest, so that unchanged they leave the index up to date', async () => {
    expect(engine.index.description.skipped.map((file) => file.source)).toEqual(
      summary.skipped.map((file) => file.source),
    );
    expect(await staleReason(workspace.config)).toBeUndefined();
    await writeFile(path.join(workspace.config.corpusDir, 'bad', 'empty.pdf'), 'changed');
    expect(await staleReason(workspace.config)).toBe('corpus/bad/empty.pdf changed');
    await writeFile(path.join(workspace.config.corpusDir, 'bad', 'empty.pdf'), '');
  });

  it('gives every passage and sentence of a PDF its page, and none to other documents', async () => {
    const chunks = await collect(engine.index.allChunks());
    const pdf = chunks.filter((chunk) => chunk.source === 'corpus/rapport.pdf');
    expect(pdf.map((chunk) => [chunk.page, chunk.section.at(-1), chunk.text.slice(0, 30)])).toEqual([
      [1, '1. Gouvernance', 'Le conseil d’administration s’'],
      [2, '2. Résultats', 'Le chiffre d’affaires de la so'],
      [3, '3. Perspectives', 'La société prévoit d’ouvrir un'],
    ]);
    for (const chunk of pdf) expect(chunk.sentences.every((sentence) => sentence.page === chunk.page)).toBe(true);
    for (const chunk of chunks.filter((candidate) => candidate.source !== 'corpus/rapport.pdf')) {
      expect(chunk.page).toBeUndefined();
      expect(chunk.sentences.every((sentence) => sentence.page === undefined)).toBe(true);
    }
    expect(chunks.find((chunk) => chunk.source === 'corpus/guide.docx')?.text).toBe('Version: 2.1 | Date: mars 2024');
    expect(summary.documents.map((document) => document.pages)).toEqual([undefined, undefined, undefined, 3]);
  });

  it('serves the text of a PDF with its page spans, in which every passage lies', async () => {
    const server = await new Promise<Server>((resolve) => {
      const listening = createApp({ engine: () => engine }).listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/sources`;
      const report = (await (await fetch(`${base}/corpus/rapport.pdf`)).json()) as SourceText;
      expect(report.pages).toHaveLength(3);
      const pdf = (await collect(engine.index.allChunks())).filter((chunk) => chunk.source === 'corpus/rapport.pdf');
      for (const chunk of pdf) {
        const page = report.pages?.[(chunk.page ?? 0) - 1];
        expect(report.text.slice(chunk.start, chunk.end)).toBe(chunk.text);
        expect(chunk.start).toBeGreaterThanOrEqual(page?.start ?? Infinity);
        expect(chunk.end).toBeLessThanOrEqual(page?.end ?? -1);
      }
      expect(report.text.slice(report.pages?.[1]?.start, report.pages?.[1]?.end)).toBe(
        '2. Résultats\n\nLe chiffre d’affaires de la société Exemple a progressé de 12 % en 2024 grâce aux ventes de ' +
          'logiciels.',
      );
      const guide = (await (await fetch(`${base}/corpus/guide.docx`)).json()) as SourceText;
      expect(guide.pages).toBeUndefined();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('cites a PDF with the page of the quote, in the API too', async () => {
    const server = await new Promise<Server>((resolve) => {
      const listening = createApp({ engine: () => engine }).listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/answer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          question: 'De combien a progressé le chiffre d’affaires de la société Exemple ?',
          includePassages: true,
        }),
      });
      const body = await response.json();
      expect(body.found).toBe(true);
      expect(body.citations[0]).toMatchObject({ source: 'corpus/rapport.pdf', page: 2 });
      expect(body.citations[0].quote).toMatch(/12 %/);
      expect(body.passages[0]).toMatchObject({ source: 'corpus/rapport.pdf', page: 2 });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

function escape(text: string | undefined): string {
  return (text ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('a corpus with nothing to index', () => {
  it('fails with a clear message and writes no index', async () => {
    const empty = await createWorkspace({
      'corpus/a.md': '# A\n\nMentions légales.',
      'corpus/b.md': '# B\n\nMentions légales.',
      'corpus/c.md': '# C\n\nMentions légales.',
    });
    try {
      await expect(ingest(empty.config)).rejects.toThrow(/yields no passage/);
      await expect(loadIndex(empty.config.indexDir, empty.config.embedder)).rejects.toThrow(/No index/);
    } finally {
      await empty.cleanup();
    }
  });
});
