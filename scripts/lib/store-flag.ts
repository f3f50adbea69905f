import { FlagError } from '../../core/command-line.js';
import { type DatabaseConfig, loadConfig } from '../../core/config.js';

/** The index store a benchmark's `--store` names: a folder, or the PostgreSQL database of DATABASE_URL. */
export type StoreChoice = { store: 'folder'; database: undefined } | { store: 'postgres'; database: DatabaseConfig };

/** Reads `--store` (folder or postgres); postgres needs DATABASE_URL. Throws a `FlagError` otherwise. */
export function storeFlag(value: string): StoreChoice {
  if (value === 'folder') return { store: 'folder', database: undefined };
  if (value !== 'postgres') throw new FlagError(`--store must be folder or postgres, not ${value}`);
  const { database } = loadConfig();
  if (database === undefined) {
    throw new FlagError('--store postgres needs DATABASE_URL (a PostgreSQL database with pgvector)');
  }
  return { store: 'postgres', database };
}
