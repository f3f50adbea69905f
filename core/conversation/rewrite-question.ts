import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { ChatPromptTemplate } from '@langchain/core/prompts';
import { DEFAULTS } from '../defaults.js';
import { analyzeQuestion, foldText, words } from '../text/analyze.js';
import type { ChatTurn } from '../types.js';

/** Turns a follow-up ("et la Chine ?", "where is it?") into a question that stands on its own. */
export interface QuestionRewriter {
  rewrite(question: string, history: readonly ChatTurn[], signal?: AbortSignal): Promise<string>;
}

/** Openings and pronouns that lean on an earlier question. */
const FOLLOW_UP_OPENINGS =
  /^\s*(?:et|mais|ou|aussi|pourquoi|comment|ou ca|and|but|or|also|why|how|what about|how about|and what about)\b/;
const ANAPHORS = new Set(
  'il elle ils elles lui leur leurs y en ca cela celui celle ceux celles son sa ses it its they them their this that these those he she him her there'.split(
    ' ',
  ),
);
const INVERTED_PRONOUN = /-(?:t-)?(?:il|elle|ils|elles|on|je|tu|nous|vous)\b/g;

/** A question with more content words than this is taken as standalone, whatever its first word. */
const MAX_FOLLOW_UP_WORDS = 3;

/** Whether a question needs the conversation to be understood. */
export function isFollowUp(question: string): boolean {
  // « rentrent-elles », « a-t-il »: the pronoun of a French question's inversion refers to nothing earlier.
  const folded = foldText(question).replace(INVERTED_PRONOUN, ' ');
  const contentWords = analyzeQuestion(question).length;
  if (contentWords === 0) return true;
  if (contentWords > MAX_FOLLOW_UP_WORDS) return false;
  return FOLLOW_UP_OPENINGS.test(folded) || words(folded).some((word) => ANAPHORS.has(word));
}

/**
 * Without a model: a follow-up is searched together with the last standalone question of the conversation, so
 * « et la Chine ? » after « Que dit Rutte de la Russie ? » searches both.
 */
export class LexicalRewriter implements QuestionRewriter {
  rewrite(question: string, history: readonly ChatTurn[]): Promise<string> {
    const earlier = history.filter((turn) => turn.role === 'user').map((turn) => turn.content.trim());
    // Most questions come without a conversation: nothing to lean on, so nothing to analyse.
    if (earlier.length === 0 || !isFollowUp(question)) return Promise.resolve(question);
    const chain: string[] = [];
    for (const turn of earlier.reverse()) {
      chain.unshift(turn);
      if (!isFollowUp(turn)) break;
    }
    return Promise.resolve([...chain, question.trim()].join(' '));
  }
}

/** With a model: it rewrites the follow-up from the recent turns; any failure falls back to the lexical method. */
export class ModelRewriter implements QuestionRewriter {
  private readonly fallback = new LexicalRewriter();

  constructor(
    private readonly model: BaseChatModel,
    private readonly prompt: ChatPromptTemplate,
  ) {}

  async rewrite(question: string, history: readonly ChatTurn[], signal?: AbortSignal): Promise<string> {
    if (!history.some((turn) => turn.role === 'user')) return question;
    const recent = history.slice(-DEFAULTS.conversation.rewriteTurns);
    try {
      // Streamed, not invoked: LangChain's `invoke` on a streaming ChatOpenAI estimates token counts with
      // js-tiktoken, which downloads its tables and hangs without network.
      const stream = await this.prompt.pipe(this.model).stream(
        {
          history: recent.map((turn) => `${turn.role === 'user' ? 'User' : 'Assistant'}: ${turn.content}`).join('\n'),
          question,
        },
        { signal },
      );
      let text = '';
      for await (const chunk of stream) text += typeof chunk.content === 'string' ? chunk.content : '';
      const rewritten = text.trim().split('\n')[0]?.trim() ?? '';
      const plausible = rewritten !== '' && rewritten.length <= question.length * 4 + 200;
      return plausible ? rewritten : await this.fallback.rewrite(question, history);
    } catch (error) {
      if (signal?.aborted === true) throw error;
      return this.fallback.rewrite(question, history);
    }
  }
}
