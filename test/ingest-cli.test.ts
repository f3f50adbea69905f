import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { loadIndex } from '../core/index/index-store.js';
import { runScript, type ScriptRun } from '../scripts/lib/run-script.js';
import { createWorkspace, PROJECT_ROOT, type Workspace } from './helpers/test-index.js';

/** Runs the ingest command as a user would, in the project root, with the given environment. */
function runIngest(args: string[], environment: NodeJS.ProcessEnv, killAfterMs?: number): Promise<ScriptRun> {
  return runScript('ingest/main.ts', { args, env: environment, killAfterMs });
}

const workspaces: Workspace[] = [];
afterEach(async () => {
  await Promise.all(workspaces.splice(0).map((workspace) => workspace.cleanup()));
});

async function workspace(files?: Record<string, string>): Promise<Workspace> {
  const created = await createWorkspace(files);
  workspaces.push(created);
  return created;
}

describe('npm run ingest', () => {
  it('prints what it found, the chunk count and the time', async () => {
    const { root } = await workspace();
    const run = await runIngest(['--corpus', path.join(root, 'corpus'), '--out', path.join(root, 'index')], {});
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Found 1 document\(s\)/);
    expect(run.stdout).toMatch(/otan-communique-sabotage-russie\.fr\.txt\s+2705 chars, fr, \d+ chunk\(s\)/);
    expect(run.stdout).toMatch(/Indexed \d+ chunk\(s\) with lexical-v1.* in \d+ ms/);
  });

  it('does nothing with --if-stale when the index is current', async () => {
    const { root } = await workspace();
    const args = ['--corpus', path.join(root, 'corpus'), '--out', path.join(root, 'index'), '--if-stale'];
    expect((await runIngest(args, {})).stdout).toMatch(/Building the index: there is no index yet/);
    expect((await runIngest(args, {})).stdout).toMatch(/is up to date/);
  });

  it('exits non-zero with a clear message on a missing or empty corpus', async () => {
    const { root } = await workspace({ 'empty/notes.pdf': 'not a text document' });
    const missing = await runIngest(['--corpus', path.join(root, 'nowhere')], {});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ingest: The corpus folder .*nowhere does not exist\.\n$/);
    const empty = await runIngest(['--corpus', path.join(root, 'empty')], {});
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/holds no \.txt, \.md or \.html document/);
  });

  it('explains its options with --help and rejects unknown ones', async () => {
    const help = await runIngest(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--corpus DIR/);
    const unknown = await runIngest(['--bogus'], {});
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--bogus'/);
  });

  it('names the variable when the configuration is invalid', async () => {
    const run = await runIngest([], { LEXICAL_DIMENSIONS: 'many' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/LEXICAL_DIMENSIONS/);
  });

  it('leaves the previous index loadable when killed at any moment', async () => {
    const files: Record<string, string> = {};
    for (let document = 0; document < 400; document += 1) {
      files[`corpus/doc-${document}.md`] =
        `# Document ${document}\n\n${`Une phrase sur le sujet numéro ${document}. `.repeat(60)}`;
    }
    const { root } = await workspace(files);
    const environment = { CORPUS_DIR: path.join(root, 'corpus'), INDEX_DIR: path.join(root, 'index') };
    const config = parseConfig(environment, PROJECT_ROOT);
    // The first run also compiles the sources; the moments to kill at are shares of a run as the later ones go.
    expect((await runIngest([], environment)).code).toBe(0);
    const startedAt = performance.now();
    expect((await runIngest([], environment)).code).toBe(0);
    const fullRunMs = performance.now() - startedAt;
    const first = await loadIndex(config.indexDir, config.embedder);
    await mkdir(path.join(root, 'corpus', 'more'), { recursive: true });
    await writeFile(path.join(root, 'corpus', 'more', 'extra.txt'), 'Un document de plus.');

    let killed = 0;
    for (const share of [0.55, 0.7, 0.82, 0.9, 0.95]) {
      const run = await runIngest([], environment, Math.round(share * fullRunMs));
      const index = await loadIndex(config.indexDir, config.embedder);
      if (run.signal === 'SIGKILL') {
        killed += 1;
        expect([first.chunkCount, first.chunkCount + 1]).toContain(index.chunkCount);
      } else {
        expect(index.chunkCount).toBe(first.chunkCount + 1);
      }
    }
    expect(killed).toBeGreaterThanOrEqual(3);
    expect((await runIngest([], environment)).code).toBe(0);
    expect((await loadIndex(config.indexDir, config.embedder)).chunkCount).toBe(first.chunkCount + 1);
  }, 240_000);
});
