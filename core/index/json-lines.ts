import { open } from 'node:fs/promises';

/** The lines of a file of JSON lines, read as a stream (the file may be larger than a string can be). */
export async function* readLines(path: string): AsyncGenerator<string> {
  const file = await open(path, 'r');
  try {
    let rest = '';
    for await (const piece of file.createReadStream({ encoding: 'utf8', highWaterMark: 1 << 20 })) {
      const lines = (rest + String(piece)).split('\n');
      rest = lines.pop() ?? '';
      yield* lines;
    }
    if (rest !== '') yield rest;
  } finally {
    await file.close();
  }
}
