import { realpath } from 'node:fs/promises';
import type { EmbedderConfig } from '../config.js';
import { IndexMissingError } from '../errors.js';
import { type LoadedIndex, loadIndex } from './index-store.js';

export interface IndexWatcher {
  stop(): void;
}

/**
 * Polls the index link and loads each new complete index it comes to point at; `onIndex` receives it. An index
 * that fails to load is reported to `onError` and skipped: whatever was being served keeps being served.
 * Polling the link's target is cheap and works where file-system events on links do not.
 */
export function watchIndex(
  indexDir: string,
  embedder: EmbedderConfig,
  current: string | undefined,
  intervalMs: number,
  onIndex: (index: LoadedIndex) => void | Promise<void>,
  onError: (error: unknown, directory: string) => void,
): IndexWatcher {
  let seen = current;
  let busy = false;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      const target = await realpath(indexDir).catch(() => undefined);
      if (target === undefined || target === seen) return;
      seen = target;
      try {
        await onIndex(await loadIndex(indexDir, embedder));
      } catch (error) {
        if (!(error instanceof IndexMissingError)) onError(error, target);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
