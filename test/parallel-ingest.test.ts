import { readdir, readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../core/defaults.js';
import { UnreadableDocumentError } from '../core/errors.js';
import { ingest } from '../ingest/build-index.js';
import { createPreparation } from '../ingest/preparation-pool.js';
import { type CensusedFile, PassagePreparer, type SplitDocument } from '../ingest/prepare-passages.js';
import { BoilerplateCensus } from '../ingest/remove-boilerplate.js';
import { generatedDocument } from '../scripts/lib/generated-corpus.js';
import { offlineEnvironment } from '../scripts/lib/offline-environment.js';
import { runScript } from '../scripts/lib/run-script.js';
import { seededRandom } from '../scripts/lib/seeded-random.js';
import { makeDocx } from './helpers/make-docx.js';
import { annualReport } from './helpers/make-pdf.js';
import { createWorkspace, type Workspace } from './helpers/test-index.js';

const workspaces: Workspace[] = [];
afterEach(async () => {
  await Promise.all(workspaces.splice(0).map((workspace) => workspace.cleanup()));
});

async function workspace(files: Record<string, string | Uint8Array>): Promise<Workspace> {
  const created = await createWorkspace(files);
  workspaces.push(created);
  return created;
}

const LICENCE = 'Ce manuel est publié sous licence libre par l’équipe de traduction.';

/** A page of a manual with sentences of its own, and the lines given (which other pages may repeat). */
function manualPage(number: number, ...lines: string[]): string {
  const own = Array.from(
    { length: 6 },
    (_value, sentence) =>
      `La section ${number} décrit l’option numéro ${sentence} du programme, qui règle le comportement ${number}-${sentence}.`,
  );
  const body = [...own, ...lines].map((line) => `<p>${line}</p>`).join('');
  return `<!DOCTYPE html><html><head><title>Chapitre ${number}</title></head><body><main><h1>Chapitre ${number}</h1>${body}</main></body></html>`;
}

/** A corpus of every kind of file, page furniture repeated on most pages, and a file that cannot be read. */
async function mixedCorpus(
  pages: number,
  withLicence: (page: number) => boolean,
): Promise<Record<string, string | Uint8Array>> {
  const files: Record<string, string | Uint8Array> = {
    'corpus/notes.md':
      '# Notes\n\nThe backup runs every night at two.\n\n- It keeps seven copies.\n- It checks each one.',
    'corpus/lisez-moi.txt': 'LISEZ-MOI\n\nCe dépôt contient le manuel. Il se lit page après page.',
    'corpus/rapport.pdf': await annualReport(),
    'corpus/guide.docx': await makeDocx([
      { heading: 'Guide', level: 1 },
      { paragraph: 'La version 2.1 corrige la lecture des journaux.' },
    ]),
    'corpus/vide.txt': '',
  };
  for (let page = 0; page < pages; page += 1) {
    const name = `corpus/chapitre-${String(page).padStart(2, '0')}.html`;
    files[name] = withLicence(page) ? manualPage(page, LICENCE) : manualPage(page);
  }
  return files;
}

/** Every file of two generations, which must be the same byte for byte (the manifest but for its date). */
async function expectSameFiles(ours: string, theirs: string): Promise<void> {
  const names = (await readdir(ours)).sort();
  expect(names).toEqual((await readdir(theirs)).sort());
  for (const name of names) {
    const [left, right] = await Promise.all([readFile(path.join(ours, name)), readFile(path.join(theirs, name))]);
    const clean = (bytes: Buffer) =>
      name === 'manifest.json' ? bytes.toString('utf8').replace(/"createdAt": "[^"]*"/, '') : bytes;
    expect(Buffer.compare(Buffer.from(clean(left)), Buffer.from(clean(right))) === 0, `${name} differs`).toBe(true);
  }
}

describe('reading and splitting files in worker threads', () => {
  it('writes the index that one thread writes, file for file', async () => {
    const { config } = await workspace(await mixedCorpus(8, (page) => page < 6));
    const alone = await ingest({ ...config, indexDir: `${config.indexDir}-alone` }, { threads: 1 });
    const threaded = await ingest(config, { threads: 2 });
    expect(threaded.chunkCount).toBeGreaterThan(20);
    expect(threaded.documents).toEqual(alone.documents);
    // The file that cannot be read is skipped with the reason a thread found, as this thread finds it.
    expect(threaded.skipped).toEqual(alone.skipped);
    expect(threaded.skipped.map((file) => file.source)).toEqual(['corpus/vide.txt']);
    await expectSameFiles(await realpath(config.indexDir), alone.generation);
  }, 120_000);

  // The worker threads load the compiled worker module, without a TypeScript loader, as `npm run ingest` runs them.
  it.skipIf(availableParallelism() < 2)(
    'the compiled command splits a corpus large enough for threads in them, and writes the index one thread writes',
    async () => {
      const next = seededRandom(7);
      const files: Record<string, string> = {};
      for (let number = 0; number < 40; number += 1) {
        files[`corpus/carnet-${String(number).padStart(2, '0')}.md`] = generatedDocument(number, 1_600, next);
      }
      const bytes = Object.values(files).reduce((total, text) => total + Buffer.byteLength(text), 0);
      expect(bytes).toBeGreaterThanOrEqual(DEFAULTS.ingest.threadsFromBytes);
      const { root, config } = await workspace(files);
      const out = path.join(root, 'index-cli');
      const run = await runScript('ingest/main.ts', {
        args: ['--corpus', path.join(root, 'corpus'), '--out', out],
        env: offlineEnvironment({}),
      });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/Indexed \d+ chunk\(s\)/);
      const alone = await ingest(config, { threads: 1 });
      expect(alone.chunkCount).toBeGreaterThan(5_000);
      await expectSameFiles(await realpath(out), alone.generation);
    },
    180_000,
  );

  it('updates the index in place as one thread rebuilds it whole, reading again the files whose furniture changed', async () => {
    const { root, config } = await workspace(await mixedCorpus(8, (page) => page < 2));
    await ingest(config, { threads: 2 });
    // The licence line now repeats on most pages: page furniture in the unchanged pages that had it, which are read
    // and split again; one page is removed, the guide changed.
    for (let page = 2; page < 7; page += 1) {
      await writeFile(path.join(root, `corpus/chapitre-0${page}.html`), manualPage(page, LICENCE));
    }
    await unlink(path.join(root, 'corpus/chapitre-07.html'));
    await writeFile(
      path.join(root, 'corpus/guide.docx'),
      await makeDocx([{ heading: 'Guide', level: 1 }, { paragraph: 'La version 2.2 accélère le démarrage.' }]),
    );
    const updated = await ingest(config, { threads: 2 });
    expect(updated.changes.fullReason).toBeUndefined();
    expect(updated.changes.refurnished).toEqual(['corpus/chapitre-00.html', 'corpus/chapitre-01.html']);
    expect(updated.carriedChunks).toBeGreaterThan(0);
    const rebuilt = await ingest({ ...config, indexDir: `${config.indexDir}-rebuilt` }, { threads: 1, full: true });
    await expectSameFiles(await realpath(config.indexDir), rebuilt.generation);
  }, 120_000);
});

describe('the preparation of files', () => {
  const settings = { chunker: DEFAULTS.chunking, lexical: { dimensions: 256 } };

  /** Split documents with their passages' terms spelt out, as each thread's numbering of terms says them. */
  function spelt(): (split: SplitDocument) => unknown {
    const numberings = new Map<number, string[]>();
    return ({ passages, ...split }) => {
      const { numbering, newTerms, counted } = passages.terms;
      const terms = numberings.get(numbering) ?? [];
      numberings.set(numbering, [...terms, ...newTerms]);
      const known = numberings.get(numbering) ?? [];
      const fields: string[] = [];
      for (let offset = 0; offset < counted.length;) {
        const distinct = counted[offset] ?? 0;
        const pairs = Array.from(counted.subarray(offset + 1, offset + 1 + 2 * distinct));
        fields.push(pairs.map((value, index) => (index % 2 === 0 ? known[value] : value)).join(' '));
        offset += 1 + 2 * distinct;
      }
      return { ...split, passages: { ...passages, terms: fields } };
    };
  }

  it('answers in a worker thread what it answers in this one', async () => {
    const { root, config } = await workspace(await mixedCorpus(3, () => true));
    const files = (await readdir(config.corpusDir)).sort().map((name) => ({
      absolutePath: path.join(config.corpusDir, name),
      source: `corpus/${name}`,
    }));
    const readable = files.filter((file) => !file.source.endsWith('vide.txt'));
    const inline = new PassagePreparer(settings, path.join(root, 'inline.jsonl'), 0);
    const threaded = createPreparation(settings, 2, root);
    try {
      const census = new BoilerplateCensus();
      const read = await Promise.all(readable.map((file) => threaded.read(file)));
      const alone = await Promise.all(readable.map((file) => inline.read(file)));
      const withoutSpool = ({ spooled: _spooled, ...file }: CensusedFile) => file;
      expect(read.map(withoutSpool)).toEqual(alone.map(withoutSpool));
      for (const file of read) census.count(file.census);
      inline.judge(census.judgement().toJSON());
      await threaded.judge(census.judgement());
      const [ours, theirs] = [spelt(), spelt()];
      for (const [index, file] of read.entries()) {
        const expected = inline.split(alone[index]?.spooled ?? file.spooled);
        expect(ours(await threaded.split(file.spooled))).toEqual(theirs(expected));
      }
    } finally {
      inline.close();
      await threaded.close();
    }
    // The threads' spool files are gone with them.
    expect((await readdir(root)).filter((name) => name.startsWith('.readings'))).toEqual([]);
  }, 60_000);

  it('rejects an unreadable file with its reason, any other failure as an error, and every task once closed', async () => {
    const { root, config } = await workspace({ 'corpus/vide.txt': '' });
    const threaded = createPreparation(settings, 1, root);
    const spooled = { path: path.join(root, '.readings-0.jsonl'), offset: 0, length: 2 };
    try {
      const empty = { absolutePath: path.join(config.corpusDir, 'vide.txt'), source: 'corpus/vide.txt' };
      const unreadable = await threaded.read(empty).catch((error: unknown) => error);
      expect(unreadable).toBeInstanceOf(UnreadableDocumentError);
      expect((unreadable as Error).message).toMatch(/empty/i);
      const missing = { absolutePath: path.join(config.corpusDir, 'absent.txt'), source: 'corpus/absent.txt' };
      const failure = await threaded.read(missing).catch((error: unknown) => error);
      expect(failure).not.toBeInstanceOf(UnreadableDocumentError);
      expect((failure as Error).message).toMatch(/ENOENT/);
      // Splitting before the census judged page furniture is a bug, said as such.
      await expect(threaded.split(spooled)).rejects.toThrow(/before the census/);
    } finally {
      await threaded.close();
    }
    await expect(threaded.split(spooled)).rejects.toThrow(/closed/);
  }, 60_000);
});
