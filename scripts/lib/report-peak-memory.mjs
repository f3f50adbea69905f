import { writeFileSync } from 'node:fs';
import process from 'node:process';

/**
 * Preloaded with `--import` into a child the scale benchmark measures: at exit, writes the process's peak resident
 * memory (bytes) to the file PEAK_MEMORY_FILE names. The parent cannot read it from /proc once the child is gone.
 * Plain JavaScript: the product's commands run compiled, without a TypeScript loader.
 */
const file = process.env['PEAK_MEMORY_FILE'];
if (file !== undefined && file !== '') {
  process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS * 1024)));
}
