import { z } from 'zod';
import { DEFAULTS } from '../../core/defaults.js';
import type { AnswerRequest, ChatTurn } from '../../core/types.js';
import { OpenAiRequestError } from './openai-errors.js';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
/** Image, audio and file parts: described so that the error can name them; this server reads text only. */
const otherPart = z.object({ type: z.string() }).passthrough();

const messageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(z.union([textPart, otherPart])), z.null()]).optional(),
  name: z.string().optional(),
});

/**
 * The body of `POST /v1/chat/completions`. Parameters that change nothing here (sampling, limits, `user`,
 * `metadata`…) are accepted and ignored, as are unknown ones; parameters this server cannot honour (`n` above 1,
 * tools and functions, a JSON response format, log probabilities, audio) are refused with a 400 naming them.
 */
export const chatCompletionRequestSchema = z.object({
  model: z.string().min(1, 'model must name the served model'),
  messages: z.array(messageSchema).min(1, 'messages must hold at least the question'),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).passthrough().nullish(),
  n: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  user: z.string().nullish(),
  metadata: z.record(z.string()).nullish(),
  store: z.boolean().nullish(),
  logit_bias: z.record(z.number()).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  tools: z.array(z.unknown()).nullish(),
  tool_choice: z.union([z.string(), z.object({}).passthrough()]).nullish(),
  functions: z.array(z.unknown()).nullish(),
  function_call: z.union([z.string(), z.object({}).passthrough()]).nullish(),
  response_format: z.object({ type: z.string() }).passthrough().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).nullish(),
  audio: z.object({}).passthrough().nullish(),
  modalities: z.array(z.string()).nullish(),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

/** What the answerer is asked, and how the client wants the reply. */
export interface ParsedCompletionRequest {
  model: string;
  answerRequest: AnswerRequest;
  stream: boolean;
  includeUsage: boolean;
}

/** A citation marker of an earlier answer, with the space before it: meaningless once its turn is over. */
const MARKER_WITH_SPACE = /\s?\[\d+\]/g;

/**
 * Validates a chat completion request and turns it into the answerer's request: the last message (the user's) is
 * the question, the earlier user and assistant turns are the history. System and developer messages are ignored:
 * the product's prompt is what keeps every answer to the passages with checked citations, front ends send a generic
 * system prompt of their own by default, and the extractive mode has no prompt for one to join.
 */
export function parseChatCompletionRequest(body: unknown): ParsedCompletionRequest {
  const parsed = chatCompletionRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue === undefined || issue.path.length === 0) {
      throw new OpenAiRequestError('The request body must be a JSON object with "model" and "messages".', null);
    }
    const param = issue.path.join('.');
    throw new OpenAiRequestError(`${param}: ${issue.message}`, param);
  }
  const request = parsed.data;
  refuseUnsupported(request);
  const conversation = request.messages
    .map((message, index) => ({ ...message, index }))
    .filter((message) => message.role !== 'system' && message.role !== 'developer');
  const last = conversation.at(-1);
  if (last === undefined || last.role !== 'user') {
    throw new OpenAiRequestError(
      'The last message must be the user question: this server answers questions and does not continue a reply.',
      'messages',
    );
  }
  const question = textOf(last, last.index).trim();
  if (question === '') throw new OpenAiRequestError('The question (the last user message) is empty.', 'messages');
  if (question.length > DEFAULTS.http.maxQuestionChars) {
    throw new OpenAiRequestError(
      `The question (the last user message) must be at most ${DEFAULTS.http.maxQuestionChars} characters.`,
      `messages.${last.index}.content`,
      'string_above_max_length',
    );
  }
  const history: ChatTurn[] = conversation
    .slice(0, -1)
    .map((message): ChatTurn => {
      if (message.role !== 'user' && message.role !== 'assistant') {
        throw new OpenAiRequestError(
          `messages.${message.index}: this server calls no tools, so it takes no "${message.role}" message.`,
          `messages.${message.index}.role`,
          'unsupported_value',
        );
      }
      const text = textOf(message, message.index);
      const content = message.role === 'assistant' ? text.replace(MARKER_WITH_SPACE, '') : text;
      return { role: message.role, content: cut(content.trim(), DEFAULTS.conversation.maxTurnChars) };
    })
    .filter((turn) => turn.content !== '')
    .slice(-DEFAULTS.conversation.maxTurns);
  return {
    model: request.model,
    answerRequest: history.length === 0 ? { question } : { question, history },
    stream: request.stream === true,
    includeUsage: request.stream_options?.include_usage === true,
  };
}

/** Refuses, naming it, the first parameter this server cannot honour. */
function refuseUnsupported(request: ChatCompletionRequest): void {
  const refuse = (param: string, message: string, code = 'unsupported_parameter') => {
    throw new OpenAiRequestError(`${param}: ${message}`, param, code);
  };
  if ((request.n ?? 1) > 1) refuse('n', 'this server writes one answer per request; n must be 1.', 'unsupported_value');
  if ((request.tools?.length ?? 0) > 0) refuse('tools', 'this server answers from its documents and calls no tools.');
  if ((request.functions?.length ?? 0) > 0) {
    refuse('functions', 'this server answers from its documents and calls no functions.');
  }
  const toolChoice = request.tool_choice;
  if (toolChoice !== undefined && toolChoice !== null && toolChoice !== 'none' && toolChoice !== 'auto') {
    refuse(
      'tool_choice',
      'this server calls no tools; leave tool_choice out or set it to "none".',
      'unsupported_value',
    );
  }
  const functionCall = request.function_call;
  if (functionCall !== undefined && functionCall !== null && functionCall !== 'none' && functionCall !== 'auto') {
    refuse('function_call', 'this server calls no functions.', 'unsupported_value');
  }
  const format = request.response_format?.type;
  if (format !== undefined && format !== 'text') {
    refuse('response_format', `answers are cited text; "${format}" cannot be produced.`, 'unsupported_value');
  }
  if (request.logprobs === true || (request.top_logprobs ?? 0) > 0) {
    refuse('logprobs', 'this server does not report token log probabilities.');
  }
  if (request.audio != null || request.modalities?.some((modality) => modality !== 'text') === true) {
    refuse('modalities', 'this server answers in text only.', 'unsupported_value');
  }
}

/** The text of a message: its string, or its text parts joined; any other part is refused. */
function textOf(message: z.infer<typeof messageSchema>, index: number): string {
  const content = message.content;
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, partIndex) => {
      if (part.type === 'text' && 'text' in part && typeof part.text === 'string') return part.text;
      throw new OpenAiRequestError(
        `messages.${index}.content.${partIndex}: this server reads text only, not "${part.type}" parts.`,
        `messages.${index}.content.${partIndex}.type`,
        'unsupported_value',
      );
    })
    .join('\n');
}

/** The first `length` UTF-16 units of a text, without splitting a surrogate pair. */
function cut(text: string, length: number): string {
  const head = text.slice(0, length);
  return /[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head;
}
