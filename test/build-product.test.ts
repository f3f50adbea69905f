import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildProduct, builtCommand } from '../scripts/lib/build-product.js';

const projects: string[] = [];
afterEach(() => {
  for (const project of projects.splice(0)) rmSync(project, { recursive: true, force: true });
});

/** A project of the product's shape: a command in `ingest/` that imports `core/`, and the server's static files. */
function project(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'cited-answers-build-'));
  projects.push(root);
  const all = {
    'package.json': '{ "type": "module" }\n',
    'core/greeting.ts': "export const greeting: string = 'bonjour';\n",
    'ingest/main.ts':
      "import { greeting } from '../core/greeting.js';\nconsole.log(`${greeting} ${typeof require}`);\n",
    'server/main.ts': "console.log('serving');\n",
    'server/public/index.html': '<!doctype html><title>Chat</title>\n',
    ...files,
  };
  for (const [name, content] of Object.entries(all)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  return root;
}

const run = (file: string) => execFileSync(process.execPath, [file], { encoding: 'utf8' }).trim();

describe('the compiled product', () => {
  it('runs as ES modules in dist/, with the static files beside it', () => {
    const root = project({});
    const command = builtCommand('ingest/main.ts', root);
    expect(command).toBe(path.join(root, 'dist', 'ingest', 'main.js'));
    // An ES module: `require` is not defined, and the import of core/ resolves to its compiled file.
    expect(run(command)).toBe('bonjour undefined');
    expect(readFileSync(path.join(root, 'dist', 'server', 'public', 'index.html'), 'utf8')).toContain('<title>Chat');
    expect(readdirSync(path.join(root, 'dist', 'core'))).toContain('greeting.js');
  });

  it('is built again when a file of the product is newer than the build, and only then', () => {
    const root = project({});
    const command = builtCommand('ingest/main.ts', root);
    const builtAt = readFileSync(command, 'utf8');
    writeFileSync(path.join(root, 'core', 'greeting.ts'), "export const greeting: string = 'salut';\n");
    // A minute ahead: newer than the build whatever the file system's resolution of times.
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(root, 'core', 'greeting.ts'), later, later);
    expect(run(builtCommand('ingest/main.ts', root))).toBe('salut undefined');
    // Unchanged sources: the build in place is used as it is.
    writeFileSync(command, builtAt.replace('greeting} ${typeof require}', 'greeting} kept'));
    const keptAt = new Date(Date.now() + 120_000);
    utimesSync(command, keptAt, keptAt);
    expect(run(builtCommand('ingest/main.ts', root))).toBe('salut kept');
  });

  it('fails with the compiler’s message on a source that does not compile, keeping the previous build whole', () => {
    const root = project({});
    const command = builtCommand('ingest/main.ts', root);
    writeFileSync(path.join(root, 'core', 'broken.ts'), 'const = ;\n');
    expect(() => buildProduct(root)).toThrow(/core\/broken\.ts:1:6: ERROR: Expected identifier/);
    expect(run(command)).toBe('bonjour undefined');
    // No half-written folder is left beside it.
    expect(readdirSync(root).filter((name) => name.startsWith('dist'))).toEqual(['dist']);
    expect(existsSync(path.join(root, 'dist', 'core', 'broken.js'))).toBe(false);
  });
});
