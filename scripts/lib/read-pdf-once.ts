/**
 * Reads one PDF with the product's reader and prints, as JSON, its pages, characters, seconds and the process's
 * peak resident memory: what `scripts/bench-pdf.ts` runs in a child process for each PDF it measures.
 */
import { readFile } from 'node:fs/promises';
import { readPdf } from '../../ingest/readers/read-pdf.js';

const file = process.argv[2];
if (file === undefined) throw new Error('Usage: read-pdf-once.ts FILE');
const started = performance.now();
const reading = await readPdf(await readFile(file));
console.log(
  JSON.stringify({
    pages: reading.pages?.length ?? 0,
    chars: reading.text.length,
    seconds: (performance.now() - started) / 1000,
    peakMb: process.resourceUsage().maxRSS / 1024,
  }),
);
