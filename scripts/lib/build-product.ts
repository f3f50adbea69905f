import { cpSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';

/**
 * The product's commands — `ingest/`, `server/` and the `core/` they share — compiled to JavaScript in `dist/`, file
 * for file in the same folders, with the chat page's static files copied beside them. `npm start`, `npm run ingest`
 * and `npm run serve` run that: it starts sooner and holds less memory than TypeScript compiled as it loads. The
 * tests, the evaluation and the scripts run their own TypeScript through tsx, and start the product's commands from
 * `dist/` (`run-script.ts`), built again when a source changed. A build takes a fraction of a second; each of those
 * commands makes one first.
 */

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');
const DIST_DIR = path.join(PROJECT_ROOT, 'dist');
/** The folders of the product's code. */
const PRODUCT_DIRS = ['core', 'ingest', 'server'];
/** Static files served as they are: the chat page, its scripts and styles. */
const PUBLIC_DIR = path.join('server', 'public');

/**
 * Compiles the product into a new folder, then puts it in place of `dist/`, so that a command never starts from a
 * build half written.
 */
export function buildProduct(): void {
  const building = `${DIST_DIR}.${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  try {
    buildSync({
      entryPoints: productFiles()
        .filter((file) => file.endsWith('.ts') && !file.startsWith(PUBLIC_DIR))
        .map((file) => path.join(PROJECT_ROOT, file)),
      outdir: building,
      outbase: PROJECT_ROOT,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'linked',
      logLevel: 'error',
    });
    cpSync(path.join(PROJECT_ROOT, PUBLIC_DIR), path.join(building, PUBLIC_DIR), { recursive: true });
    rmSync(DIST_DIR, { recursive: true, force: true });
    renameSync(building, DIST_DIR);
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/**
 * Where the compiled form of a command of the product lies (`server/main.ts` → `dist/server/main.js`), built first
 * when `dist/` is missing or older than any of the product's files.
 */
export function builtCommand(entry: string): string {
  const built = path.join(DIST_DIR, entry.replace(/\.ts$/, '.js'));
  const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (productFiles().some((file) => statSync(path.join(PROJECT_ROOT, file)).mtimeMs > builtAt)) buildProduct();
  return built;
}

/** The files and folders of the product's code, from the project root. */
function productFiles(): string[] {
  return PRODUCT_DIRS.flatMap((dir) =>
    readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' }).map((file) =>
      path.join(dir, file),
    ),
  );
}
