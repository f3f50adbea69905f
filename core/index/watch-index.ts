import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { EmbedderConfig } from '../config.js';
import { IndexMissingError } from '../errors.js';
import { type LoadedIndex, loadIndex } from './index-store.js';
import type { PassageIndex } from './passage-index.js';

export interface IndexWatcher {
  stop(): void;
}

/** How a server follows the index: each new complete generation, loaded, and each one that failed to load. */
export interface WatchOptions {
  /** The generation being served, if any: it is not loaded again. */
  current: string | undefined;
  intervalMs: number;
  onIndex: (index: PassageIndex) => void | Promise<void>;
  /** A new generation that failed to load, or a store that stopped answering (once, until it answers again). */
  onError: (error: unknown, generation: string) => void;
}

export interface WatchIndexOptions {
  /** The index link to poll. */
  indexDir: string;
  /** The embedder a new index must have been built with. */
  embedder: EmbedderConfig;
  /** The generation (folder name) of the index being served, if any: it is not loaded again. */
  current: string | undefined;
  intervalMs: number;
  /** Receives each new index once loaded. */
  onIndex: (index: LoadedIndex) => void | Promise<void>;
  /** Receives a new index's load failure and its folder. */
  onError: (error: unknown, directory: string) => void;
}

/**
 * Polls the index link and loads each new complete index it comes to point at; `onIndex` receives it. An index
 * that fails to load is reported to `onError` and skipped: whatever was being served keeps being served.
 * Polling the link's target is cheap and works where file-system events on links do not.
 */
export function watchIndex({
  indexDir,
  embedder,
  current,
  intervalMs,
  onIndex,
  onError,
}: WatchIndexOptions): IndexWatcher {
  let seen = current;
  let busy = false;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      const target = await realpath(indexDir).catch(() => undefined);
      if (target === undefined || path.basename(target) === seen) return;
      seen = path.basename(target);
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
