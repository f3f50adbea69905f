import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { z } from 'zod';
import { loadChatPrompt } from '../core/llm/prompts.js';
import type { Answer } from '../core/types.js';
import type { EvalCase } from './cases.js';
import type { JudgeVerdict } from './score-case.js';

const verdictSchema = z.object({
  faithfulness: z.number().min(0).max(1),
  correctness: z.number().min(0).max(1),
});

/** Scores an answer's faithfulness to its citations and its correctness, with a language model. */
export interface Judge {
  judge(evalCase: EvalCase, answer: Answer): Promise<JudgeVerdict>;
}

/** Builds a judge on a chat model, with the prompt templates of `prompts/judge-*.txt`. */
export async function createJudge(model: BaseChatModel, promptsDir: string): Promise<Judge> {
  const chain = (await loadChatPrompt(promptsDir, 'judge')).pipe(model);
  return {
    async judge(evalCase, answer) {
      const stream = await chain.stream({
        question: evalCase.question,
        answer: answer.answer,
        passages: answer.citations.map((citation) => `[${citation.n}] ${citation.passage}`).join('\n\n') || '(none)',
        expected:
          evalCase.expectedQuote ??
          (evalCase.kind === 'unanswerable' ? 'none: the documents do not answer this question' : 'none'),
      });
      let content = '';
      for await (const chunk of stream) content += typeof chunk.content === 'string' ? chunk.content : '';
      const parsed = verdictSchema.safeParse(parseJsonObject(content));
      if (!parsed.success) throw new Error(`The judge did not reply with a verdict: ${content.slice(0, 200)}`);
      return parsed.data;
    },
  };
}

/** The first `{…}` of a reply, parsed; undefined when there is none or it is not JSON. */
function parseJsonObject(content: string): unknown {
  const json = /\{[\s\S]*\}/.exec(content)?.[0];
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}
