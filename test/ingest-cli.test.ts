import { watch } from 'node:fs';
import { mkdir, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { loadIndex } from '../core/index/index-store.js';
import { collect } from '../core/index/passage-index.js';
import { ingest } from '../ingest/build-index.js';
import { runScript, type ScriptRun, startScript } from '../scripts/lib/run-script.js';
import { damagedFiles } from './helpers/damaged-files.js';
import { createWorkspace, PROJECT_ROOT, type Workspace } from './helpers/test-index.js';

/** Runs the ingest command as a user would, in the project root, with the given environment. */
function runIngest(args: string[], environment: NodeJS.ProcessEnv, killAfterMs?: number): Promise<ScriptRun> {
  return runScript('ingest/main.ts', { args, env: environment, killAfterMs });
}

const workspaces: Workspace[] = [];
afterEach(async () => {
  await Promise.all(workspaces.splice(0).map((workspace) => workspace.cleanup()));
});

async function workspace(files?: Record<string, string | Uint8Array>): Promise<Workspace> {
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
    expect(run.stdout).toMatch(/Rebuilt the whole index \(there is no index yet\): 1 added, 0 changed/);
    expect(run.stdout).toMatch(/Indexed \d+ chunk\(s\) \(0 carried over, \d+ embedded\) with lexical-v1.* in \d+ ms/);
  });

  it('updates the index in place, or rebuilds it all with --full', async () => {
    const { root } = await workspace({
      'corpus/a.md': '# A\n\nUn premier document.\n',
      'corpus/b.md': '# B\n\nUn deuxième document.\n',
    });
    const args = ['--corpus', path.join(root, 'corpus'), '--out', path.join(root, 'index')];
    expect((await runIngest(args, {})).code).toBe(0);
    await writeFile(path.join(root, 'corpus', 'b.md'), '# B\n\nUn deuxième document, revu.\n');
    const update = await runIngest(args, {});
    expect(update.stdout).toMatch(/Updated the index: 0 added, 1 changed, 0 removed, 1 unchanged\./);
    expect(update.stdout).toMatch(/Indexed 2 chunk\(s\) \(1 carried over, 2 embedded\)/);
    const full = await runIngest([...args, '--full'], {});
    expect(full.stdout).toMatch(/Rebuilt the whole index \(a full rebuild was asked for\): 0 added, 0 changed/);
    expect(full.stdout).toMatch(/\(0 carried over, 2 embedded\)/);
  });

  it('prints what would change with --dry-run, and writes nothing', async () => {
    const { root } = await workspace({
      'corpus/a.md': '# A\n\nUn premier document.\n',
      'corpus/b.md': '# B\n\nUn deuxième document.\n',
      'corpus/c.md': '# C\n\nUn troisième document.\n',
      'corpus/vide.pdf': '',
    });
    const index = path.join(root, 'index');
    const args = ['--corpus', path.join(root, 'corpus'), '--out', index, '--dry-run'];
    const first = await runIngest(args, {});
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Would rebuild the whole index \(there is no index yet\): 4 added/);
    expect(first.stdout).toMatch(/ {2}added {6}corpus\/vide\.pdf {2}\(skipped: the file is empty\)\n/);
    expect(await readdir(root)).toEqual(['corpus']);

    expect((await runIngest(args.slice(0, 4), {})).code).toBe(0);
    const served = await realpath(index);
    const before = await readdir(root);
    await writeFile(path.join(root, 'corpus', 'b.md'), '# B\n\nUn deuxième document, revu.\n');
    await rm(path.join(root, 'corpus', 'c.md'));
    await writeFile(path.join(root, 'corpus', 'd.md'), '# D\n\nUn quatrième document.\n');
    await writeFile(path.join(root, 'corpus', 'e.docx'), 'Un texte sous un faux nom.\n');
    const run = await runIngest(args, {});
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(
      [
        `Dry run: nothing is written to ${path.relative(PROJECT_ROOT, index)}.`,
        '  added      corpus/d.md',
        '  added      corpus/e.docx  (skipped: the file is not a DOCX but text; its extension is wrong)',
        '  changed    corpus/b.md',
        '  removed    corpus/c.md',
        '  unchanged  corpus/a.md',
        '  unchanged  corpus/vide.pdf  (skipped: the file is empty)',
        'Would update the index: 2 added, 1 changed, 1 removed, 2 unchanged.',
        'Would skip 2 file(s) that cannot be read.',
        '',
      ].join('\n'),
    );
    expect(await realpath(index)).toBe(served);
    expect(await readdir(root)).toEqual(before);
  });

  it('does nothing with --if-stale when the index is current', async () => {
    const { root } = await workspace();
    const args = ['--corpus', path.join(root, 'corpus'), '--out', path.join(root, 'index'), '--if-stale'];
    expect((await runIngest(args, {})).stdout).toMatch(/Building the index: there is no index yet/);
    expect((await runIngest(args, {})).stdout).toMatch(/is up to date/);
  });

  it('exits non-zero with a clear message on a missing or empty corpus', async () => {
    const { root } = await workspace({ 'empty/image.png': 'not a document' });
    const missing = await runIngest(['--corpus', path.join(root, 'nowhere')], {});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ingest: The corpus folder .*nowhere does not exist\.\n$/);
    const empty = await runIngest(['--corpus', path.join(root, 'empty')], {});
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/holds no \.txt, \.md, \.html, \.pdf or \.docx document/);
  });

  it('skips the files it cannot read, lists them with their reasons and exits 0', async () => {
    const damaged = await damagedFiles();
    const { root } = await workspace({
      'corpus/ok.md': '# Note\n\nUn document lisible.',
      ...Object.fromEntries(Object.entries(damaged).map(([name, file]) => [`corpus/${name}`, file.content])),
    });
    const run = await runIngest(['--corpus', path.join(root, 'corpus'), '--out', path.join(root, 'index')], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Found 1 document\(s\)/);
    expect(run.stdout).toContain(`Skipped ${Object.keys(damaged).length} file(s) that could not be read:\n`);
    expect(run.stdout).toContain('  corpus/locked.pdf: the PDF is encrypted with a password\n');
    expect(run.stdout).toContain('  corpus/report.txt: the file is not text but a PDF; its extension is wrong\n');
    expect(run.stdout).toContain('  corpus/empty.pdf: the file is empty\n');
  });

  it('exits non-zero with the list when no file can be read, and the previous index keeps serving', async () => {
    const damaged = await damagedFiles();
    const { root } = await workspace({
      'good/ok.md': '# Note\n\nUn document lisible.',
      ...Object.fromEntries(Object.entries(damaged).map(([name, file]) => [`bad/${name}`, file.content])),
    });
    const environment = { CORPUS_DIR: path.join(root, 'good'), INDEX_DIR: path.join(root, 'index') };
    expect((await runIngest([], environment)).code).toBe(0);
    const config = parseConfig(environment, PROJECT_ROOT);
    const before = await loadIndex(config.indexDir, config.embedder);
    const run = await runIngest(['--corpus', path.join(root, 'bad')], environment);
    expect(run.code).toBe(1);
    // On a slow machine, progress lines may come first.
    expect(run.stderr).toMatch(/^ingest: No document of the corpus folder .*bad could be read:\n/m);
    for (const name of Object.keys(damaged)) expect(run.stderr).toContain(`  bad/${name}: `);
    const dry = await runIngest(['--corpus', path.join(root, 'bad'), '--dry-run'], environment);
    expect(dry.code).toBe(1);
    expect(dry.stdout).toContain(`Would skip ${Object.keys(damaged).length} file(s) that cannot be read.`);
    expect(dry.stderr).toBe('ingest: no document of the corpus could be read; an ingest would fail.\n');
    const after = await loadIndex(config.indexDir, config.embedder);
    expect(after.directory).toBe(before.directory);
    expect(await collect(after.allChunks())).toEqual(await collect(before.allChunks()));
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

  // The long proof, killing at random moments of large runs, is `npm run proof:kill`. Here each kill is placed by
  // what the run does: when its staging folder appears (writing the index), when its new link appears (the index
  // renamed into place, the link not yet swapped), and once by time, early in the run (loading and embedding); each
  // for an update that adds a document and for a full rebuild (`--full`).
  it('leaves the previous index loadable when an update or a full rebuild is killed at any moment', async () => {
    const files: Record<string, string> = {};
    for (let document = 0; document < 40; document += 1) {
      files[`corpus/doc-${document}.md`] =
        `# Document ${document}\n\n${`Une phrase sur le sujet numéro ${document}. `.repeat(30)}`;
    }
    const { root } = await workspace(files);
    const environment = { CORPUS_DIR: path.join(root, 'corpus'), INDEX_DIR: path.join(root, 'index') };
    const config = parseConfig(environment, PROJECT_ROOT);
    const full = await runIngest([], environment);
    expect(full.code).toBe(0);
    const first = await loadIndex(config.indexDir, config.embedder);
    const extra = path.join(root, 'corpus', 'more', 'extra.txt');
    await mkdir(path.dirname(extra), { recursive: true });

    const moments: Array<{ appears?: (pid: number) => RegExp; afterMs?: number }> = [
      { appears: (pid) => new RegExp(`^\\.index\\.staging-${pid}-`) },
      { appears: (pid) => new RegExp(`^\\.index\\.link-${pid}-`) },
      { afterMs: Math.round(full.ms * 0.4) },
    ];
    const killed: string[] = [];
    for (const args of [[], ['--full']]) {
      for (const { appears, afterMs } of moments) {
        // Each run starts from the first index and adds the document.
        if ((await loadIndex(config.indexDir, config.embedder)).chunkCount !== first.chunkCount) {
          await rm(extra);
          await ingest(config);
        }
        await writeFile(extra, 'Un document de plus.');
        const script = startScript('ingest/main.ts', { args, env: environment, killAfterMs: afterMs });
        const watcher = watch(root, (_event, name) => {
          if (appears !== undefined && name !== null && appears(script.pid).test(name)) script.child.kill('SIGKILL');
        });
        const run = await script.exited.finally(() => watcher.close());
        const index = await loadIndex(config.indexDir, config.embedder);
        if (run.signal === 'SIGKILL') {
          killed.push(`${args.join('') || 'update'} ${appears?.(0).source ?? `${afterMs} ms`}`);
          expect([first.chunkCount, first.chunkCount + 1]).toContain(index.chunkCount);
        } else {
          expect(run.code).toBe(0);
          expect(index.chunkCount).toBe(first.chunkCount + 1);
        }
      }
    }
    // The kills at the staging folder and at the new link land while the run still has work to do.
    expect(killed.length, killed.join(', ')).toBeGreaterThanOrEqual(4);
    // What the killed runs left behind does not stop the next run (in process: the same code the command calls).
    await writeFile(extra, 'Un document de plus.');
    await ingest(config);
    expect((await loadIndex(config.indexDir, config.embedder)).chunkCount).toBe(first.chunkCount + 1);
  }, 180_000);
});
