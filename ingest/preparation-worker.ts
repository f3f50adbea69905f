import { parentPort, workerData } from 'node:worker_threads';
import { UnreadableDocumentError } from '../core/errors.js';
import { PassagePreparer, type PreparationSettings, type PreparedPassages } from './prepare-passages.js';
import type { PreparationReply, PreparationTask } from './preparation-pool.js';

/**
 * A thread that reads and splits files for an ingest (`preparation-pool.ts`): it runs each task it is sent on its
 * own `PassagePreparer` and answers with the output, handing the buffers of terms and features over rather than copying them.
 */
const port = parentPort;
if (port === null) throw new Error('preparation-worker.ts runs in a worker thread');
const { settings, spool, thread } = workerData as { settings: PreparationSettings; spool: string; thread: number };
const preparer = new PassagePreparer(settings, spool, thread);

/** The buffer of the passages' features, moved to the other thread with the message. */
function moved(passages: PreparedPassages): ArrayBuffer[] {
  const buffers = [passages.terms.counted.buffer as ArrayBuffer];
  if (passages.features !== undefined) buffers.push(passages.features.buffer as ArrayBuffer);
  return buffers;
}

async function perform(message: PreparationTask): Promise<{ output: unknown; transfer: ArrayBuffer[] }> {
  switch (message.task) {
    case 'read':
      return { output: await preparer.read(message.input), transfer: [] };
    case 'judge':
      preparer.judge(message.input);
      return { output: undefined, transfer: [] };
    case 'split': {
      const split = preparer.split(message.input);
      return { output: split, transfer: moved(split.passages) };
    }
    case 'analyse': {
      const passages = preparer.analyse(message.input);
      return { output: passages, transfer: moved(passages) };
    }
    case 'close':
      preparer.close();
      return { output: undefined, transfer: [] };
  }
}

port.on('message', (message: PreparationTask) => {
  perform(message).then(
    ({ output, transfer }) => port.postMessage({ id: message.id, output } satisfies PreparationReply, transfer),
    (error: unknown) => {
      const reply: PreparationReply =
        error instanceof UnreadableDocumentError
          ? { id: message.id, unreadable: error.message }
          : { id: message.id, failure: error instanceof Error ? (error.stack ?? error.message) : String(error) };
      port.postMessage(reply);
    },
  );
});
