import { Worker } from 'node:worker_threads';
import { UnreadableDocumentError } from '../core/errors.js';
import type { Chunk } from '../core/types.js';
import type { CorpusFile } from './load-documents.js';
import {
  type CensusedFile,
  PassagePreparer,
  type PreparationSettings,
  type PreparedPassages,
  type SplitDocument,
} from './prepare-passages.js';
import type { FurnitureJudgement } from './remove-boilerplate.js';

/**
 * Where an ingest reads and splits its files: in this thread, or in worker threads, one file per task, so that
 * several files are read, split and analysed at once on a machine with several cores. Either way the results come
 * back as promises, which the ingest awaits in corpus order, keeping `concurrency` files in hand: the index written
 * is the same.
 */
export interface Preparation {
  /** Files worth having in preparation at once. */
  readonly concurrency: number;
  /** Reads a file for the census; rejects with `UnreadableDocumentError` for a file that cannot be read. */
  read(file: CorpusFile): Promise<CensusedFile>;
  /** Hands over the corpus's judgement of page furniture, before any file is split. */
  judge(judgement: FurnitureJudgement): Promise<void>;
  split(line: string): Promise<SplitDocument>;
  analyse(chunks: Chunk[]): Promise<PreparedPassages>;
  /** Stops the threads, if any. */
  close(): Promise<void>;
}

/** A preparation in `threads` worker threads, or in this thread when `threads` is 0. */
export function createPreparation(settings: PreparationSettings, threads: number): Preparation {
  return threads > 0 ? new ThreadedPreparation(settings, threads) : new InlinePreparation(settings);
}

/** Everything in this thread, one file ahead of the one being written (the next is read while one is split). */
class InlinePreparation implements Preparation {
  readonly concurrency = 1;
  private readonly preparer: PassagePreparer;

  constructor(settings: PreparationSettings) {
    this.preparer = new PassagePreparer(settings);
  }

  read(file: CorpusFile): Promise<CensusedFile> {
    return this.preparer.read(file);
  }

  judge(judgement: FurnitureJudgement): Promise<void> {
    this.preparer.judge(judgement.toJSON());
    return Promise.resolve();
  }

  split(line: string): Promise<SplitDocument> {
    return Promise.resolve().then(() => this.preparer.split(line));
  }

  analyse(chunks: Chunk[]): Promise<PreparedPassages> {
    return Promise.resolve().then(() => this.preparer.analyse(chunks));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A task for a worker: a method of `PassagePreparer` and its argument. */
export type PreparationTask =
  | { id: number; task: 'read'; input: CorpusFile }
  | { id: number; task: 'judge'; input: ReturnType<FurnitureJudgement['toJSON']> }
  | { id: number; task: 'split'; input: string }
  | { id: number; task: 'analyse'; input: Chunk[] };

/** A worker's answer to a task: its output, or why it failed (a file that cannot be read is not a failure). */
export type PreparationReply =
  { id: number; output: unknown } | { id: number; unreadable: string } | { id: number; failure: string };

/**
 * Loads the worker module (TypeScript) in the thread: a worker does not inherit the TypeScript loader of the process,
 * under tsx or vitest alike, so it registers tsx's own before importing it.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.loader).then((tsx) => {
  tsx.register();
  return import(workerData.module);
});
`;

interface Pending {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
}

/** The work in worker threads, each task given to the thread with the fewest in hand. */
class ThreadedPreparation implements Preparation {
  readonly concurrency: number;
  private readonly workers: Array<{ worker: Worker; pending: Map<number, Pending> }>;
  private nextId = 0;
  private failure: Error | undefined;

  constructor(settings: PreparationSettings, threads: number) {
    // Each thread splits one file while the next waits in its queue.
    this.concurrency = threads * 2;
    const workerData = {
      loader: import.meta.resolve('tsx/esm/api'),
      module: new URL('./preparation-worker.ts', import.meta.url).href,
      settings,
    };
    this.workers = Array.from({ length: threads }, () => {
      const worker = new Worker(BOOTSTRAP, { eval: true, workerData });
      const pending = new Map<number, Pending>();
      worker.on('message', (reply: PreparationReply) => {
        const waiting = pending.get(reply.id);
        pending.delete(reply.id);
        if (waiting === undefined) return;
        if ('output' in reply) waiting.resolve(reply.output);
        else if ('unreadable' in reply) waiting.reject(new UnreadableDocumentError(reply.unreadable));
        else waiting.reject(new Error(`preparing a file failed in a worker thread: ${reply.failure}`));
      });
      const fail = (error: Error) => {
        this.failure ??= error;
        for (const waiting of pending.values()) waiting.reject(error);
        pending.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`a thread preparing files stopped (exit code ${code})`)));
      return { worker, pending };
    });
  }

  read(file: CorpusFile): Promise<CensusedFile> {
    return this.run({ task: 'read', input: file }) as Promise<CensusedFile>;
  }

  async judge(judgement: FurnitureJudgement): Promise<void> {
    const verdict = judgement.toJSON();
    await Promise.all(this.workers.map((_worker, index) => this.run({ task: 'judge', input: verdict }, index)));
  }

  split(line: string): Promise<SplitDocument> {
    return this.run({ task: 'split', input: line }) as Promise<SplitDocument>;
  }

  analyse(chunks: Chunk[]): Promise<PreparedPassages> {
    return this.run({ task: 'analyse', input: chunks }) as Promise<PreparedPassages>;
  }

  async close(): Promise<void> {
    this.failure ??= new Error('the preparation of files is closed');
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }

  /** Gives a task to worker `index`, or to the one with the fewest tasks in hand. */
  private run(task: Omit<PreparationTask, 'id'>, index?: number): Promise<unknown> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const chosen =
      this.workers[index ?? -1] ??
      this.workers.reduce((least, candidate) => (candidate.pending.size < least.pending.size ? candidate : least));
    if (chosen === undefined) return Promise.reject(new Error('no worker thread'));
    const id = this.nextId;
    this.nextId += 1;
    return new Promise((resolve, reject) => {
      chosen.pending.set(id, { resolve, reject });
      chosen.worker.postMessage({ ...task, id });
    });
  }
}
