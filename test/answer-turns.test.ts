import { describe, expect, it } from 'vitest';
import type { Answerer } from '../core/engine.js';
import type { Answer, AnswerOptions, AnswerRequest } from '../core/types.js';
import { answerInTurn, endOfTurn } from '../server/routes/answer-routes.js';

/** An answerer that notes each question it answers in `log`, and answers at once (or never). */
function loggingAnswerer(log: string[], { settles = true } = {}): Answerer {
  return {
    answer(request: AnswerRequest, options?: AnswerOptions): Promise<Answer> {
      log.push(`answer ${request.question}`);
      if (!settles) return new Promise(() => {});
      options?.signal?.throwIfAborted();
      return Promise.resolve({
        answer: request.question,
        found: true,
        language: 'en',
        mode: 'extractive',
        citations: [],
        timings: { retrieveMs: 0, totalMs: 0 },
      });
    },
  };
}

describe('answers in turns', () => {
  it('answers the requests read in one turn after reading them all, and writes their responses after answering all', async () => {
    const log: string[] = [];
    const answerer = loggingAnswerer(log);
    const requests = ['a', 'b', 'c'].map(async (question) => {
      log.push(`read ${question}`);
      const answer = await answerInTurn(answerer, { question }, { signal: new AbortController().signal });
      await endOfTurn();
      log.push(`write ${answer.answer}`);
    });
    await Promise.all(requests);
    expect(log).toEqual([
      'read a',
      'read b',
      'read c',
      'answer a',
      'answer b',
      'answer c',
      'write a',
      'write b',
      'write c',
    ]);
  });

  it('gives up with the signal’s reason when it aborts, whether or not the answerer heeds it', async () => {
    const reason = new Error('The client closed the connection.');
    for (const settles of [true, false]) {
      const log: string[] = [];
      const controller = new AbortController();
      const answered = answerInTurn(
        loggingAnswerer(log, { settles }),
        { question: 'q' },
        { signal: controller.signal },
      );
      controller.abort(reason);
      await expect(answered).rejects.toBe(reason);
    }
    const log: string[] = [];
    const controller = new AbortController();
    const waiting = answerInTurn(
      loggingAnswerer(log, { settles: false }),
      { question: 'q' },
      { signal: controller.signal },
    );
    await endOfTurn();
    expect(log).toEqual(['answer q']);
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });
});
