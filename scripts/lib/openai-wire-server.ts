import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local server speaking the OpenAI HTTP API's wire format, for tests of our OpenAI adapters without the network,
 * and for benchmarks that count the requests an ingest makes.
 * `/v1/embeddings` returns deterministic vectors (as floats, or as base64 little-endian float32 when asked, as the
 * official SDK asks by default); `/v1/chat/completions` answers as the test's `chat` function says.
 */
export interface OpenAiWireServer {
  /** Base URL to configure as `OPENAI_BASE_URL`, ending in `/v1`. */
  baseUrl: string;
  /** Every request received, in order: path, headers and parsed JSON body. */
  requests: Array<{ path: string; authorization: string | undefined; body: unknown }>;
  /** Chat requests whose client closed the connection before the reply was complete. */
  abandoned: number;
  close: () => Promise<void>;
}

/**
 * How the server answers one chat completion request: with text (streamed in `tokens` when the request asks for a
 * stream, `delayMs` apart), an HTTP error, silence (`hang`), or a stream that breaks after some tokens.
 */
export type ChatReply =
  | { content: string }
  | { tokens: string[]; delayMs?: number }
  | { status: number; message?: string }
  | { hang: true }
  | { brokenAfter: string[] };

export interface OpenAiWireServerOptions {
  dimensions?: number;
  /** Answers `/v1/chat/completions`; without it the route is a 404. */
  chat?: (body: Record<string, unknown>) => ChatReply;
  /** Answer embeddings requests with this status and an OpenAI-style error body instead. */
  embeddingsStatus?: number;
  /** Never answer embeddings requests, or answer them with a truncated body. */
  embeddingsFault?: 'hang' | 'truncated';
}

/** A deterministic unit vector of letter-bigram counts, so that similar texts get similar vectors. */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  const folded = text.toLowerCase();
  for (let index = 0; index + 2 <= folded.length; index += 1) {
    const bucket = (folded.charCodeAt(index) * 31 + folded.charCodeAt(index + 1)) % dimensions;
    vector[bucket] = (vector[bucket] ?? 0) + 1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => value / norm);
}

export async function startOpenAiWireServer(options: OpenAiWireServerOptions = {}): Promise<OpenAiWireServer> {
  const dimensions = options.dimensions ?? 64;
  const requests: OpenAiWireServer['requests'] = [];
  const state = { abandoned: 0 };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const raw = await readBody(request);
    const body = raw === '' ? undefined : (JSON.parse(raw) as Record<string, unknown>);
    requests.push({ path: request.url ?? '', authorization: request.headers.authorization, body });
    if (request.method === 'POST' && request.url === '/v1/embeddings') {
      if (options.embeddingsFault === 'hang') return undefined;
      if (options.embeddingsFault === 'truncated') {
        response.writeHead(200, { 'content-type': 'application/json' });
        return response.end('{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,');
      }
      if (options.embeddingsStatus !== undefined) {
        return sendError(response, options.embeddingsStatus, 'The server had an error while processing your request.');
      }
      const input = body?.['input'];
      const texts = Array.isArray(input) ? input.map(String) : [String(input)];
      const base64 = body?.['encoding_format'] === 'base64';
      return sendJson(response, 200, {
        object: 'list',
        data: texts.map((text, index) => {
          const vector = fakeEmbedding(text, dimensions);
          const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
          return { object: 'embedding', index, embedding };
        }),
        model: body?.['model'],
        usage: { prompt_tokens: texts.length, total_tokens: texts.length },
      });
    }
    if (request.method === 'POST' && request.url === '/v1/chat/completions' && options.chat !== undefined) {
      response.on('close', () => {
        if (!response.writableFinished) state.abandoned += 1;
      });
      const reply = options.chat(body ?? {});
      const model = String(body?.['model']);
      if ('status' in reply) return sendError(response, reply.status, reply.message ?? 'Upstream failure.');
      if ('hang' in reply) return undefined;
      if (body?.['stream'] !== true) {
        const content = 'content' in reply ? reply.content : 'tokens' in reply ? reply.tokens.join('') : '';
        return sendJson(response, 200, chatCompletion(model, content));
      }
      return streamCompletion(response, model, reply, body?.['stream_options']);
    }
    return sendError(response, 404, `Unknown route ${request.method} ${request.url}`);
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => sendError(response, 500, String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    get abandoned() {
      return state.abandoned;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A non-streamed chat completion, shaped as the API returns it. */
function chatCompletion(model: string, content: string) {
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      { index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' },
    ],
    usage: { prompt_tokens: 10, completion_tokens: content.length, total_tokens: 10 + content.length },
  };
}

/** Streams a completion as the API does: `data:` chunks, a usage chunk when asked for, then `[DONE]`. */
async function streamCompletion(
  response: ServerResponse,
  model: string,
  reply: Exclude<ChatReply, { status: number } | { hang: true }>,
  streamOptions: unknown,
): Promise<void> {
  const id = `chatcmpl-${Math.random().toString(36).slice(2)}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const write = (data: unknown) => response.write(`data: ${JSON.stringify(data)}\n\n`);
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  write(chunk({ role: 'assistant', content: '', refusal: null }, null));
  const tokens = 'content' in reply ? [reply.content] : 'tokens' in reply ? reply.tokens : reply.brokenAfter;
  const delayMs = 'delayMs' in reply ? (reply.delayMs ?? 0) : 0;
  for (const token of tokens) {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (response.destroyed) return;
    write(chunk({ content: token }, null));
  }
  if ('brokenAfter' in reply) {
    response.end('data: {"id":"broken","choices":[{"delta":{"content":\n\n');
    return;
  }
  write(chunk({}, 'stop'));
  if ((streamOptions as { include_usage?: unknown } | undefined)?.include_usage === true) {
    const completion = tokens.join('').length;
    write({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [],
      usage: { prompt_tokens: 42, completion_tokens: completion, total_tokens: 42 + completion },
    });
  }
  response.end('data: [DONE]\n\n');
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => resolve(text));
    request.on('error', reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, status: number, message: string): void {
  sendJson(response, status, { error: { message, type: 'server_error', param: null, code: null } });
}
