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
import type { FurnitureJudgement, FurnitureVerdict } from './remove-boilerplate.js';
import type { SpooledLine } from './spool-file.js';

/**
 * Where an ingest reads and splits its files, one file per task: in this thread, helped on a machine with several
 * cores by worker threads, so that several files are read, split and analysed at once. The results come back as
 * promises, which the ingest awaits in corpus order, keeping `concurrency` files in hand: the index written is the
 * same whichever thread prepared which file. What a thread reads is kept in its spool file until it is split.
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
  /** Stops the worker threads and removes the spool files; once, however many times it is called. */
  close(): Promise<void>;
}

/**
 * A preparation in `threads` threads: this one and `threads - 1` workers (a worker costs a few tenths of a second to
 * start, and a second or so of compiling and collecting over an ingest). Spool files go in `folder`.
 */
export function createPreparation(settings: PreparationSettings, threads: number, folder: string): Preparation {
  return new PreparationPool(settings, Math.max(1, threads), folder);
}

/** A task: a method of `PassagePreparer` and its argument. */
type Task =
  | { task: 'read'; input: CorpusFile }
  | { task: 'judge'; input: FurnitureVerdict }
  | { task: 'split'; input: SpooledLine }
  | { task: 'analyse'; input: Chunk[] }
  | { task: 'close'; input: undefined };

/** A task as a worker is sent it. */
export type PreparationTask = Task & { id: number };

/** A worker's answer to a task: its output, or why it failed (a file that cannot be read is not a failure). */
export type PreparationReply =
  { id: number; output: unknown } | { id: number; unreadable: string } | { id: number; failure: string };

interface Pending {
  task: Task;
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
}

/** Tasks a worker is given ahead of the one it works on, so that it never waits for this thread to hand it more. */
const WORKER_QUEUE = 8;

/**
 * Files in hand per thread. This thread appends the results in corpus order and prepares queued files meanwhile: with
 * only the workers' queues in hand it ran out of files while it waited for a worker's next result (idle a quarter of
 * the split of 100k passages on two cores); four times as many kept it busy, and split them 10 % sooner.
 */
const FILES_IN_HAND = 4 * WORKER_QUEUE;

/**
 * Loads the worker module in the thread. Compiled (`npm start`), it is JavaScript; run from its TypeScript (tests, tsx),
 * it needs a loader, which a worker does not inherit from the process under tsx or vitest alike: the thread then
 * registers tsx's own before importing it.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const loader = workerData.loader === undefined ? undefined : import(workerData.loader);
Promise.resolve(loader).then((tsx) => {
  tsx?.register();
  return import(workerData.module);
});
`;

/** Whether this module runs from its TypeScript source rather than compiled. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** The spool file of thread `thread` (hidden, so that it is not taken for part of the index). */
function spoolPath(folder: string, thread: number): string {
  return path.join(folder, `.readings-${thread}.jsonl`);
}

/**
 * The threads and the tasks waiting for one. Workers take tasks from the front of the queue as soon as they have
 * fewer than `WORKER_QUEUE` in hand; this thread takes the next one whenever it has nothing else to do (between the
 * results it appends to the index), so that the work shares itself out whatever the files' sizes.
 */
class PreparationPool implements Preparation {
  readonly concurrency: number;
  private readonly local: PassagePreparer;
  private readonly workers: Array<{ worker: Worker; pending: Map<number, Pending> }>;
  private readonly queue: Pending[] = [];
  private readonly terms = new Map<number, string[]>();
  private helping = false;
  private nextId = 0;
  private failure: Error | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    settings: PreparationSettings,
    threads: number,
    private readonly folder: string,
  ) {
    this.concurrency = threads === 1 ? 1 : threads * FILES_IN_HAND;
    this.local = new PassagePreparer(settings, spoolPath(folder, 0), 0);
    this.workers = Array.from({ length: threads - 1 }, (_worker, index) => {
      const thread = index + 1;
      const workerData = {
        loader: FROM_SOURCE ? import.meta.resolve('tsx/esm/api') : undefined,
        module: new URL(`./preparation-worker.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url).href,
        settings,
        spool: spoolPath(folder, thread),
        thread,
      };
      const worker = new Worker(BOOTSTRAP, { eval: true, workerData });
      const pending = new Map<number, Pending>();
      worker.on('message', (reply: PreparationReply) => {
        const waiting = pending.get(reply.id);
        pending.delete(reply.id);
        if (waiting !== undefined) {
          if ('output' in reply) waiting.resolve(this.gather(waiting.task, reply.output));
          else if ('unreadable' in reply) waiting.reject(new UnreadableDocumentError(reply.unreadable));
          else waiting.reject(new Error(`preparing a file failed in a worker thread: ${reply.failure}`));
        }
        this.dispatch();
      });
      const fail = (error: Error) => {
        this.failure ??= error;
        for (const waiting of [...pending.values(), ...this.queue.splice(0)]) waiting.reject(this.failure);
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
    this.local.judge(verdict);
    await Promise.all(this.workers.map((worker) => this.send(worker, { task: 'judge', input: verdict })));
  }

  split(spooled: SpooledLine): Promise<SplitDocument> {
    return this.run({ task: 'split', input: spooled }) as Promise<SplitDocument>;
  }

  analyse(chunks: Chunk[]): Promise<PreparedPassages> {
    return this.run({ task: 'analyse', input: chunks }) as Promise<PreparedPassages>;
  }

  termsOf(numbering: number): readonly string[] {
    return this.terms.get(numbering) ?? [];
  }

  /** Ends the threads and removes their spools; closing again waits for the first close and does nothing more. */
  close(): Promise<void> {
    this.closed ??= this.end();
    return this.closed;
  }

  private async end(): Promise<void> {
    // Each thread closes its files (a thread's descriptors are the process's), unless it failed.
    this.local.close();
    await Promise.all(
      this.workers.map((worker) => this.send(worker, { task: 'close', input: undefined }).catch(() => undefined)),
    );
    this.failure ??= new Error('the preparation of files is closed');
    for (const waiting of this.queue.splice(0)) waiting.reject(this.failure);
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
    await Promise.all(
      Array.from({ length: this.workers.length + 1 }, (_thread, thread) =>
        rm(spoolPath(this.folder, thread), { force: true }),
      ),
    );
  }

  /** Queues a task for the first thread free to take it. */
  private run(task: Task): Promise<unknown> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  /** Gives queued tasks to the workers that have room, and leaves the rest for this thread's idle moments. */
  private dispatch(): void {
    for (const worker of this.workers) {
      while (worker.pending.size < WORKER_QUEUE && this.queue.length > 0) {
        const next = this.queue.shift();
        if (next !== undefined) this.send(worker, next.task).then(next.resolve, next.reject);
      }
    }
    if (this.queue.length === 0 || this.helping) return;
    this.helping = true;
    setImmediate(() => {
      this.helping = false;
      const next = this.queue.shift();
      if (next !== undefined) this.perform(next);
      this.dispatch();
    });
  }

  /** Does a task in this thread. */
  private perform({ task, resolve, reject }: Pending): void {
    const settle = (work: () => unknown) => {
      try {
        resolve(this.gather(task, work()));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    switch (task.task) {
      case 'read':
        this.local.read(task.input).then(resolve, reject);
        return;
      case 'split':
        settle(() => this.local.split(task.input));
        return;
      case 'analyse':
        settle(() => this.local.analyse(task.input));
        return;
      default:
        reject(new Error(`${task.task} is not a task for one thread`));
    }
  }

  /** Sends a task to a worker; the promise settles with its reply. */
  private send(worker: { worker: Worker; pending: Map<number, Pending> }, task: Task): Promise<unknown> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId;
    this.nextId += 1;
    return new Promise((resolve, reject) => {
      worker.pending.set(id, { task, resolve, reject });
      worker.worker.postMessage({ ...task, id });
    });
  }

  /**
   * Gathers the new terms of a split or analysis as it is made (in this thread) or arrives (from a worker, whose
   * results arrive in the order it made them), and passes the result on.
   */
  private gather(task: Task, output: unknown): unknown {
    if (task.task !== 'split' && task.task !== 'analyse') return output;
    const result = output as SplitDocument | PreparedPassages;
    const { numbering, newTerms } = 'entry' in result ? result.passages.terms : result.terms;
    const known = this.terms.get(numbering) ?? [];
    for (const term of newTerms) known.push(term);
    this.terms.set(numbering, known);
    return output;
  }
}
