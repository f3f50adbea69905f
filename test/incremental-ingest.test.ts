import { readdir, readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { ingest } from '../ingest/build-index.js';
import { createWorkspace, type Workspace } from './helpers/test-index.js';
import { describeIncrementalIngest, manual } from './incremental-ingest.case.js';

/**
 * The folder store's update writes what a full rebuild writes, file for file: every file of the updated generation
 * is the same, byte for byte, as the rebuilt one's (the manifest but for its date).
 */
async function sameFiles(updated: Config, rebuilt: Config): Promise<void> {
  const [ours, theirs] = [await realpath(updated.indexDir), await realpath(rebuilt.indexDir)];
  const names = (await readdir(ours)).sort();
  expect(names).toEqual((await readdir(theirs)).sort());
  for (const name of names) {
    let [mine, expected] = await Promise.all([
      readFile(path.join(ours, name), 'utf8'),
      readFile(path.join(theirs, name), 'utf8'),
    ]);
    if (name === 'manifest.json') {
      mine = mine.replace(/"createdAt": "[^"]*"/, '');
      expected = expected.replace(/"createdAt": "[^"]*"/, '');
    }
    expect(mine === expected, `${name} differs from a full rebuild's`).toBe(true);
  }
}

describeIncrementalIngest('folder', { environment: () => Promise.resolve({}), sameStorage: sameFiles });

const workspaces: Workspace[] = [];
afterEach(async () => {
  await Promise.all(workspaces.splice(0).map((workspace) => workspace.cleanup()));
});

async function workspace(files: Record<string, string>): Promise<Workspace> {
  const created = await createWorkspace(files);
  workspaces.push(created);
  return created;
}

describe('incremental ingest into a folder', () => {
  it('rebuilds everything when the document readers changed', async () => {
    const { config } = await workspace(manual(4, []));
    const chunker = { ...DEFAULTS.chunking, targetChars: 300 };
    await ingest(config, { chunker });
    // An index made by other document readers (READER_VERSION) may cut texts otherwise: nothing of it is reused.
    const manifestFile = path.join(await realpath(config.indexDir), 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { readerVersion: number };
    await writeFile(manifestFile, JSON.stringify({ ...manifest, readerVersion: manifest.readerVersion - 1 }));
    const reread = await ingest(config, { chunker });
    expect(reread.changes.fullReason).toBe('the document readers changed');
    expect(reread.carriedChunks).toBe(0);
  }, 60_000);

  it('carries nothing over from an index in place that is damaged or keeps no census', async () => {
    const { config } = await workspace(manual(4, []));
    await ingest(config);
    const generation = await realpath(config.indexDir);
    const chunks = path.join(generation, 'chunks.jsonl');
    const bytes = await readFile(chunks);
    await writeFile(chunks, Buffer.concat([bytes.subarray(0, 40), Buffer.from('X'), bytes.subarray(41)]));
    const repaired = await ingest(config);
    expect(repaired.changes.fullReason).toBe('the index file chunks.jsonl in place is missing or damaged');
    expect(repaired.carriedChunks).toBe(0);
    const rebuilt = { ...config, indexDir: `${config.indexDir}-rebuilt` };
    await ingest(rebuilt, { full: true });
    await sameFiles(config, rebuilt);

    const current = await realpath(config.indexDir);
    const manifestFile = path.join(current, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { files: Record<string, string> };
    delete manifest.files['census.jsonl'];
    await writeFile(manifestFile, JSON.stringify(manifest));
    await unlink(path.join(current, 'census.jsonl'));
    expect((await ingest(config)).changes.fullReason).toBe('the index in place keeps no census of page furniture');
  }, 60_000);
});
