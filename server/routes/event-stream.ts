import type { Response } from 'express';
import { DEFAULTS } from '../../core/defaults.js';

/** A Server-Sent Events stream on a response. */
export interface EventStream {
  /** Writes one event: its name when given, then its data as JSON. Nothing is written once the response ended. */
  send(data: unknown, event?: string): void;
  /** Writes a raw line of the stream, such as OpenAI's `data: [DONE]`. */
  writeRaw(text: string): void;
  end(): void;
}

/**
 * Opens an event stream: headers flushed at once, no buffering by proxies, and a keep-alive comment now and then so
 * that they do not close it while an answer is slow to come.
 */
export function openEventStream(response: Response): EventStream {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  });
  response.flushHeaders();
  const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), DEFAULTS.http.heartbeatMs);
  const writeRaw = (text: string) => {
    if (!response.writableEnded) response.write(text);
  };
  return {
    send: (data, event) =>
      writeRaw(`${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`),
    writeRaw,
    end: () => {
      clearInterval(heartbeat);
      response.end();
    },
  };
}
