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
/** The folders of the product's code. */
const PRODUCT_DIRS = ['core', 'ingest', 'server'];
/** Static files served as they are: the chat page, its scripts and styles. */
const PUBLIC_DIR = path.join('server', 'public');

/**
 * Compiles the product (of the project at `root`) into a new folder, then puts it in place of `dist/`, so that a
 * command never starts from a build half written.
 */
export function buildProduct(root = PROJECT_ROOT): void {
  const dist = path.join(root, 'dist');
  const building = `${dist}.${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  try {
    buildSync({
      entryPoints: productFiles(root)
        .filter((file) => file.endsWith('.ts') && !file.startsWith(PUBLIC_DIR))
        .map((file) => path.join(root, file)),
      outdir: building,
      outbase: root,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'linked',
      logLevel: 'error',
    });
    cpSync(path.join(root, PUBLIC_DIR), path.join(building, PUBLIC_DIR), { recursive: true });
    rmSync(dist, { recursive: true, force: true });
    renameSync(building, dist);
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/**
 * Where the compiled form of a command of the product lies (`server/main.ts` → `dist/server/main.js`), built first
 * when `dist/` is missing or older than any of the product's files.
 */
export function builtCommand(entry: string, root = PROJECT_ROOT): string {
  const built = path.join(root, 'dist', entry.replace(/\.ts$/, '.js'));
  const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (productFiles(root).some((file) => statSync(path.join(root, file)).mtimeMs > builtAt)) buildProduct(root);
  return built;
}

/** The files and folders of the product's code, from the project root. */
function productFiles(root: string): string[] {
  return PRODUCT_DIRS.flatMap((dir) =>
    readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' }).map((file) => path.join(dir, file)),
  );
}
