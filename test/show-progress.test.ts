import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { showProgress } from '../ingest/show-progress.js';
import { builtCommand } from '../scripts/lib/build-product.js';
import { PROJECT_ROOT, createWorkspace, type Workspace } from './helpers/test-index.js';

/** A stream that keeps what is written to it; not a terminal unless told. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; written: string[] } {
  const written: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString());
      callback();
    },
  });
  return Object.assign(stream, { isTTY, written });
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ingest progress', () => {
  it('prints a plain line at each interval when the output is not a terminal, and where it ended', async () => {
    const stream = sink(false);
    const display = showProgress(stream, 40);
    display.update({ stage: 'read', files: 1, totalFiles: 4, pages: 0 });
    await wait(70);
    display.update({ stage: 'read', files: 3, totalFiles: 4, pages: 193 });
    await wait(70);
    display.update({ stage: 'embed', chunks: 0, totalChunks: 1200 });
    display.update({ stage: 'embed', chunks: 512, totalChunks: 1200 });
    await wait(70);
    display.update({ stage: 'write' });
    display.stop();
    const lines = stream.written.join('').split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^ingest: reading 1\/4 files, \d+\.\d files\/s, about \d+ s left$/);
    expect(lines).toContainEqual(expect.stringMatching(/^ingest: reading 3\/4 files \(193 pages\), \d+\.\d files\/s/));
    expect(lines).toContainEqual(expect.stringMatching(/^ingest: embedding 512\/1200 chunks, \d+\.\d chunks\/s/));
    expect(lines.at(-1)).toBe('ingest: writing the index');
    // The same state is not printed twice, and a log gets no control codes.
    expect(new Set(lines).size).toBe(lines.length);
    const written = stream.written.join('');
    expect(written.includes('\u001b') || written.includes('\r')).toBe(false);
  });

  it('prints nothing for an ingest shorter than one interval', () => {
    const stream = sink(false);
    const display = showProgress(stream, 10_000);
    display.update({ stage: 'read', files: 1, totalFiles: 1, pages: 0 });
    display.update({ stage: 'write' });
    display.stop();
    expect(stream.written).toEqual([]);
  });

  describe('on a terminal', () => {
    let workspace: Workspace | undefined;
    afterAll(() => workspace?.cleanup());

    it('draws bars of files and chunks with the rate and the time left', async () => {
      const files: Record<string, string> = {};
      for (let index = 0; index < 30; index += 1) {
        files[`corpus/note-${index}.md`] = `# Note ${index}\n\n${`Une phrase sur le sujet ${index}. `.repeat(40)}`;
      }
      workspace = await createWorkspace(files);
      // `script` runs the command in a pseudo-terminal, as a person at a terminal would.
      const command = `${process.execPath} ${builtCommand('ingest/main.ts')} --corpus ${workspace.root}/corpus --out ${workspace.root}/index`;
      const { stdout } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, COLUMNS: '160' },
      });
      expect(stdout).toMatch(/Reading +[█░]+ 30\/30 files \| 0 pages \| \d+\.\d files\/s \| \d+s left/);
      expect(stdout).toMatch(/Embedding +[█░]+ \d+\/\d+ chunks \| \d+\.\d chunks\/s/);
      expect(stdout).toContain('\u001b[?25l'); // the cursor is hidden while the bar is drawn…
      expect(stdout).toContain('\u001b[?25h'); // …and shown again
      expect(stdout).toMatch(/Indexed \d+ chunk\(s\)/);
    });
  });
});
