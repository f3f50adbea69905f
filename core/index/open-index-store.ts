import type { Config } from '../config.js';
import { loadIndex, readManifest } from './index-store.js';
import type { IndexDescription, PassageIndex } from './passage-index.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { type IndexWatcher, watchIndex, type WatchOptions } from './watch-index.js';

/**
 * Where indexes are kept: a folder on this machine (`INDEX_STORE=folder`), or a PostgreSQL database that any number
 * of servers share (`INDEX_STORE=postgres`). Servers, the evaluation and `npm start` reach the index only through
 * this and the `PassageIndex` it loads.
 */
export interface IndexStore {
  /** Where the index lives, for messages: a folder, or an index of a database (without its password). */
  readonly location: string;
  /** What the current index was built from and with; undefined when there is none. */
  describe(): Promise<IndexDescription | undefined>;
  /** Loads the current index. IndexMissingError when there is none; other known errors say what to do. */
  load(): Promise<PassageIndex>;
  /** Follows the store: loads each new current generation once complete. */
  watch(options: WatchOptions): IndexWatcher;
  /** Releases connections; the store is not used afterwards. */
  close(): Promise<void>;
}

/** The store the configuration names. */
export function openIndexStore(config: Config): IndexStore {
  if (config.indexStore === 'postgres' && config.database !== undefined) {
    return new PostgresStore(config.database, config.indexName, config.embedder);
  }
  return {
    location: config.indexDir,
    describe: () => readManifest(config.indexDir),
    load: () => loadIndex(config.indexDir, config.embedder),
    watch: ({ current, intervalMs, onIndex, onError }) =>
      watchIndex({ indexDir: config.indexDir, embedder: config.embedder, current, intervalMs, onIndex, onError }),
    close: () => Promise.resolve(),
  };
}
