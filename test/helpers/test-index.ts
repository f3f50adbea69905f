import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type Config, parseConfig } from '../../core/config.js';
import { createEngine, type Engine } from '../../core/engine.js';
import { loadIndex } from '../../core/index/index-store.js';
import { ingest } from '../../ingest/build-index.js';

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const COMMUNIQUE = 'corpus/otan-communique-sabotage-russie.fr.txt';

/** A scratch project root holding a copy of the repository's corpus (or the given files), removed by `cleanup`. */
export interface Workspace {
  root: string;
  config: Config;
  cleanup: () => Promise<void>;
}

export async function createWorkspace(
  files?: Record<string, string | Uint8Array>,
  environment: NodeJS.ProcessEnv = {},
): Promise<Workspace> {
  const root = await mkdtemp(path.join(tmpdir(), 'cited-answers-'));
  if (files === undefined) {
    await cp(path.join(PROJECT_ROOT, 'corpus'), path.join(root, 'corpus'), { recursive: true });
  } else {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, name)), { recursive: true });
      await writeFile(path.join(root, name), content);
    }
  }
  return {
    root,
    config: parseConfig(environment, root),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** Ingests a workspace's corpus and loads the resulting index, as `npm start` would. */
export async function buildEngine(workspace: Workspace): Promise<Engine> {
  await ingest(workspace.config);
  return await createEngine(await loadIndex(workspace.config.indexDir, workspace.config.embedder));
}

/**
 * Registers hooks that build an engine over a copy of the repository's corpus before a test file's tests and
 * remove it after; the returned object is filled in once the hooks have run.
 */
export function useCorpusEngine(): { engine: Engine; workspace: Workspace } {
  const context = {} as { engine: Engine; workspace: Workspace };
  beforeAll(async () => {
    context.workspace = await createWorkspace();
    context.engine = await buildEngine(context.workspace);
  });
  afterAll(() => context.workspace.cleanup());
  return context;
}
