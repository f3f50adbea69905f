import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { DEFAULTS } from '../../core/defaults.js';
import { readCorpusFile, toDocuments } from '../../ingest/load-documents.js';
import { splitIntoChunks } from '../../ingest/split-into-chunks.js';

/**
 * Real-text corpora of a chosen number of chunks for the scale benchmark, from Debian documentation packages:
 * French and English manual pages, the Python and Linux kernel documentation (reStructuredText sources) and the
 * Debian policy (HTML). The packages are downloaded with `apt-get download` and unpacked with `dpkg-deb -x` into a
 * cache folder; nothing is installed on the system.
 */

const run = promisify(execFile);

/** Packages read, and which of their files become documents. */
export const SCALE_PACKAGES: ReadonlyArray<{ name: string; pick: (file: string) => boolean }> = [
  { name: 'manpages-fr', pick: (file) => /\/usr\/share\/man\/fr\/man\d\/[^/]+\.gz$/.test(file) },
  { name: 'manpages', pick: (file) => /\/usr\/share\/man\/man\d\/[^/]+\.gz$/.test(file) },
  { name: 'python3.11-doc', pick: (file) => /\/html\/_sources\/.+\.rst\.txt$/.test(file) },
  { name: 'linux-doc-6.1', pick: (file) => /\/html\/_sources\/.+\.rst\.txt$/.test(file) },
  { name: 'debian-policy', pick: (file) => /\/usr\/share\/doc\/debian-policy\/.+\.html$/.test(file) },
];

/** Bumped when the way chunks are counted changes, so that corpora written before are written again. */
const CORPUS_LAYOUT = 2;

/** One document of the pool: where it is written in a corpus folder, and its text. */
interface PoolDocument {
  name: string;
  text: string;
}

/** Downloads (once) and unpacks the packages into `cacheDir/packages`; returns each package's folder. */
export async function fetchPackages(cacheDir: string, log: (line: string) => void): Promise<Map<string, string>> {
  const folders = new Map<string, string>();
  const debs = path.join(cacheDir, 'debs');
  await mkdir(debs, { recursive: true });
  let updated = false;
  for (const { name } of SCALE_PACKAGES) {
    const folder = path.join(cacheDir, 'packages', name);
    folders.set(name, folder);
    if (existsSync(path.join(folder, '.complete'))) continue;
    let deb = (await readdir(debs)).find((file) => file.startsWith(`${name}_`) && file.endsWith('.deb'));
    if (deb === undefined) {
      log(`downloading ${name} with apt-get download`);
      try {
        await run('apt-get', ['download', name], { cwd: debs });
      } catch (error) {
        if (updated) throw error;
        // The package lists may be missing or old: refresh them once and try again.
        log('apt-get download failed; running apt-get update first');
        await run('apt-get', ['update']);
        updated = true;
        await run('apt-get', ['download', name], { cwd: debs });
      }
      deb = (await readdir(debs)).find((file) => file.startsWith(`${name}_`) && file.endsWith('.deb'));
      if (deb === undefined) throw new Error(`apt-get download ${name} left no .deb in ${debs}`);
    }
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder, { recursive: true });
    await run('dpkg-deb', ['-x', path.join(debs, deb), folder]);
    await writeFile(path.join(folder, '.complete'), `${deb}\n`);
  }
  return folders;
}

/**
 * Every document of the packages, as the corpus will hold them: manual pages converted from roff to text, the other
 * files as they are. Documents of the packages are interleaved, so that every prefix of the pool mixes them.
 */
export async function packagePool(folders: Map<string, string>): Promise<PoolDocument[]> {
  const lists: PoolDocument[][] = [];
  for (const { name, pick } of SCALE_PACKAGES) {
    const folder = folders.get(name);
    if (folder === undefined) continue;
    const files = (await readdir(folder, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(entry.parentPath, entry.name))
      .filter(pick)
      .sort();
    const documents: PoolDocument[] = [];
    for (const file of files) {
      const relative = path.relative(folder, file);
      if (file.endsWith('.gz')) {
        const text = roffToText(gunzipSync(await readFile(file)).toString('utf8'));
        // Pages that only point at another page (`.so`) have no text of their own.
        if (text.trim().length < 200) continue;
        documents.push({ name: path.join(name, relative.replace(/\.gz$/, '.txt')), text });
      } else {
        documents.push({ name: path.join(name, relative), text: await readFile(file, 'utf8') });
      }
    }
    lists.push(documents);
  }
  return interleave(lists);
}

/** The documents of a local folder (.txt, .md, .html), in path order: a pool that needs no download. */
export async function folderPool(folder: string): Promise<PoolDocument[]> {
  const files = (await readdir(folder, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile() && /\.(?:txt|md|html?)$/i.test(entry.name))
    .map((entry) => path.relative(folder, path.join(entry.parentPath, entry.name)))
    .sort();
  return Promise.all(
    files.map(async (file) => ({ name: file, text: await readFile(path.join(folder, file), 'utf8') })),
  );
}

/**
 * Writes a corpus folder of about `chunks` chunks, taking documents from the pool in order (so that corpora are
 * nested) and counting chunks with the product's own loader and splitter. When the pool holds fewer chunks, it is
 * repeated in `copy-N/` folders. Reuses a folder written before for the same pool and size.
 */
export async function writeCorpus(
  pool: readonly PoolDocument[],
  folder: string,
  chunks: number,
): Promise<{ folder: string; documents: number; estimatedChunks: number; copies: number }> {
  const stamp = path.join(folder, '.complete');
  // The splitter's version is part of the key: chunk counts change with it.
  const key = `${CORPUS_LAYOUT}:${pool.length}:${chunks}`;
  if (existsSync(stamp)) {
    const previous = JSON.parse(await readFile(stamp, 'utf8')) as {
      key: string;
      documents: number;
      estimated: number;
      copies: number;
    };
    if (previous.key === key) {
      return { folder, documents: previous.documents, estimatedChunks: previous.estimated, copies: previous.copies };
    }
  }
  const staging = `${folder}.staging`;
  await rm(staging, { recursive: true, force: true });
  await rm(folder, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  let estimated = 0;
  let documents = 0;
  let copies = 0;
  const counted = new Map<string, number>();
  outer: for (let copy = 1; ; copy += 1) {
    for (const document of pool) {
      if (estimated >= chunks) break outer;
      copies = Math.max(copies, copy);
      const name = copy === 1 ? document.name : path.join(`copy-${copy}`, document.name);
      const file = path.join(staging, name);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, document.text);
      let count = counted.get(document.name);
      if (count === undefined) {
        const [parsed] = toDocuments([await readCorpusFile({ absolutePath: file, source: name })]);
        count = parsed === undefined ? 0 : splitIntoChunks(parsed, DEFAULTS.chunking).length;
        counted.set(document.name, count);
      }
      estimated += count;
      documents += 1;
    }
    if (counted.size === 0 || [...counted.values()].every((count) => count === 0)) {
      throw new Error('the document pool yields no chunk');
    }
  }
  await writeFile(path.join(staging, '.complete'), JSON.stringify({ key, documents, estimated, copies }));
  await rename(staging, folder);
  return { folder, documents, estimatedChunks: estimated, copies };
}

function interleave<T>(lists: T[][]): T[] {
  const result: T[] = [];
  const longest = Math.max(0, ...lists.map((list) => list.length));
  for (let index = 0; index < longest; index += 1) {
    for (const list of lists) {
      const item = list[index];
      if (item !== undefined) result.push(item);
    }
  }
  return result;
}

/**
 * Plain text of a manual page's roff source: headings and paragraphs kept, separated by blank lines; macros,
 * comments and font escapes removed. Enough for readable passages, not a typesetter.
 */
export function roffToText(source: string): string {
  const lines: string[] = [];
  for (const line of source.split('\n')) {
    if (/^['.]\s*\\"/.test(line)) continue;
    const heading = /^\.(?:SH|SS)\s*(.*)$/.exec(line);
    if (heading !== undefined && heading !== null) {
      lines.push('', unquote(heading[1] ?? ''), '');
      continue;
    }
    const paragraph = /^\.(?:PP|LP|P|TP|HP|sp|br|RS|RE|in|nf|fi)\b/.exec(line);
    if (paragraph !== null) {
      lines.push('');
      continue;
    }
    const item = /^\.IP\s+(.*)$/.exec(line);
    if (item !== null) {
      lines.push('', unquote(item[1] ?? '').replace(/\s+\d+$/, ''));
      continue;
    }
    const font = /^\.(B|I|SM|SB)\s+(.*)$/.exec(line);
    if (font !== null) {
      lines.push(unquote(font[2] ?? ''));
      continue;
    }
    const alternating = /^\.(?:BR|IR|RB|RI|BI|IB)\s+(.*)$/.exec(line);
    if (alternating !== null) {
      lines.push((alternating[1]?.match(/"[^"]*"|\S+/g) ?? []).map(unquote).join(''));
      continue;
    }
    if (line.startsWith('.') || line.startsWith("'")) continue;
    lines.push(line);
  }
  return `${unescape(lines.join('\n'))
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

function unquote(text: string): string {
  return text.trim().replace(/^"(.*)"$/, '$1');
}

function unescape(text: string): string {
  return text
    .replace(/\\f(?:\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\\((?:em|en)/g, '—')
    .replace(/\\\((?:aq|cq)/g, "'")
    .replace(/\\\((?:lq|rq|dq)/g, '"')
    .replace(/\\\(co/g, '©')
    .replace(/\\\(bu/g, '•')
    .replace(/\\\(../g, '')
    .replace(/\\\[[^\]]*\]/g, '')
    .replace(/\\\*(?:\(..|\[[^\]]*\]|.)/g, '')
    .replace(/\\s[-+]?\d/g, '')
    .replace(/\\[-]/g, '-')
    .replace(/\\[&|^%]/g, '')
    .replace(/\\ /g, ' ')
    .replace(/\\e/g, '\\')
    .replace(/\\(.)/g, '$1');
}
