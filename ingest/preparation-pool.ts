import { rm } from 'node:fs/promises';
import path from 'node:path';
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
import type { SpooledLine } from './spool-file.js';

/**
 * Where an ingest reads and splits its files: in this thread, or in worker threads, one file per task, so that
 * several files are read, split and analysed at once on a machine with several cores. Either way the results come
 * back as promises, which the ingest awaits in corpus order, keeping `concurrency` files in hand: the index written
 * is the same. What a thread reads is kept in its spool file in `folder` until it is split (by any thread).
 */
export interface Preparation {
  /** Files worth having in preparation at once. */
  readonly concurrency: number;
  /** Reads a file for the census; rejects with `UnreadableDocumentError` for a file that cannot be read. */
  read(file: CorpusFile): Promise<CensusedFile>;
  /** Hands over the corpus's judgement of page furniture, before any file is split. */
  judge(judgement: FurnitureJudgement): Promise<void>;
  split(spooled: SpooledLine): Promise<SplitDocument>;
  analyse(chunks: Chunk[]): Promise<PreparedPassages>;
  /**
   * Every term thread `numbering` has numbered so far, in the order of their numbers: gathered as its results arrive,
   * in the order it made them, so that the terms of any result received are known, whatever order results are used in.
   */
  termsOf(numbering: number): readonly string[];
  /** Stops the threads, if any, and removes the spool files. */
  close(): Promise<void>;
}

/** The terms each thread numbered, gathered from its results as they arrive. */
class NumberedTerms {
  private readonly terms = new Map<number, string[]>();

  /** Takes the new terms of a thread's result, passed on as it is. */
  gather<T extends SplitDocument | PreparedPassages>(result: T): T {
    const { numbering, newTerms } = 'entry' in result ? result.passages.terms : result.terms;
    const known = this.terms.get(numbering) ?? [];
    for (const term of newTerms) known.push(term);
    this.terms.set(numbering, known);
    return result;
  }

  of(numbering: number): readonly string[] {
    return this.terms.get(numbering) ?? [];
  }
}

/** A preparation in `threads` worker threads, or in this thread when `threads` is 0; spool files go in `folder`. */
export function createPreparation(settings: PreparationSettings, threads: number, folder: string): Preparation {
  return threads > 0
    ? new ThreadedPreparation(settings, threads, folder)
    : new InlinePreparation(settings, spoolPath(folder, 0));
}

/** The spool file of thread `thread` (hidden, so that it is not taken for part of the index). */
function spoolPath(folder: string, thread: number): string {
  return path.join(folder, `.readings-${thread}.jsonl`);
}

/** Everything in this thread, one file ahead of the one being written (the next is read while one is split). */
class InlinePreparation implements Preparation {
  readonly concurrency = 1;
  private readonly preparer: PassagePreparer;
  private readonly terms = new NumberedTerms();

  constructor(
    settings: PreparationSettings,
    private readonly spool: string,
  ) {
    this.preparer = new PassagePreparer(settings, spool, 0);
  }

  read(file: CorpusFile): Promise<CensusedFile> {
    return this.preparer.read(file);
  }

  judge(judgement: FurnitureJudgement): Promise<void> {
    this.preparer.judge(judgement.toJSON());
    return Promise.resolve();
  }

  split(spooled: SpooledLine): Promise<SplitDocument> {
    return Promise.resolve().then(() => this.terms.gather(this.preparer.split(spooled)));
  }

  analyse(chunks: Chunk[]): Promise<PreparedPassages> {
    return Promise.resolve().then(() => this.terms.gather(this.preparer.analyse(chunks)));
  }

  termsOf(numbering: number): readonly string[] {
    return this.terms.of(numbering);
  }

  async close(): Promise<void> {
    this.preparer.close();
    await rm(this.spool, { force: true });
  }
}

/** A task for a worker: a method of `PassagePreparer` and its argument. */
export type PreparationTask =
  | { id: number; task: 'read'; input: CorpusFile }
  | { id: number; task: 'judge'; input: ReturnType<FurnitureJudgement['toJSON']> }
  | { id: number; task: 'split'; input: SpooledLine }
  | { id: number; task: 'analyse'; input: Chunk[] }
  | { id: number; task: 'close'; input: undefined };

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
  task: PreparationTask['task'];
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
}

/** The work in worker threads, each task given to the thread with the fewest in hand. */
class ThreadedPreparation implements Preparation {
  readonly concurrency: number;
  private readonly workers: Array<{ worker: Worker; pending: Map<number, Pending> }>;
  private nextId = 0;
  private failure: Error | undefined;
  private readonly terms = new NumberedTerms();

  constructor(
    settings: PreparationSettings,
    threads: number,
    private readonly folder: string,
  ) {
    // Each thread splits one file while the next waits in its queue.
    this.concurrency = threads * 2;
    this.workers = Array.from({ length: threads }, (_thread, thread) => {
      const workerData = {
        loader: import.meta.resolve('tsx/esm/api'),
        module: new URL('./preparation-worker.ts', import.meta.url).href,
        settings,
        spool: spoolPath(folder, thread),
        thread,
      };
      const worker = new Worker(BOOTSTRAP, { eval: true, workerData });
      const pending = new Map<number, Pending>();
      worker.on('message', (reply: PreparationReply) => {
        const waiting = pending.get(reply.id);
        pending.delete(reply.id);
        if (waiting === undefined) return;
        if ('output' in reply) {
          // A thread's results arrive in the order it made them: its new terms are gathered now, in that order.
          const { output } = reply;
          if (waiting.task === 'split' || waiting.task === 'analyse') {
            this.terms.gather(output as SplitDocument | PreparedPassages);
          }
          waiting.resolve(output);
        } else if ('unreadable' in reply) waiting.reject(new UnreadableDocumentError(reply.unreadable));
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

  split(spooled: SpooledLine): Promise<SplitDocument> {
    return this.run({ task: 'split', input: spooled }) as Promise<SplitDocument>;
  }

  analyse(chunks: Chunk[]): Promise<PreparedPassages> {
    return this.run({ task: 'analyse', input: chunks }) as Promise<PreparedPassages>;
  }

  termsOf(numbering: number): readonly string[] {
    return this.terms.of(numbering);
  }

  async close(): Promise<void> {
    // Each thread closes its files (a thread's descriptors are the process's), unless it failed.
    await Promise.all(
      this.workers.map((_worker, index) => this.run({ task: 'close', input: undefined }, index).catch(() => undefined)),
    );
    this.failure ??= new Error('the preparation of files is closed');
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
    await Promise.all(this.workers.map((_worker, thread) => rm(spoolPath(this.folder, thread), { force: true })));
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
      chosen.pending.set(id, { task: task.task, resolve, reject });
      chosen.worker.postMessage({ ...task, id });
    });
  }
}
