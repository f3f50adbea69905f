import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../server/logging.js';

/** A logger writing JSON lines into memory, so that tests can read what the server logged. */
export function captureLogger(level = 'info'): {
  logger: Logger;
  lines: () => Array<Record<string, unknown>>;
  text: () => string;
} {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    logger: createLogger(level, destination),
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
