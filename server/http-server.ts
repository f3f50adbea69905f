import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type express from 'express';

/**
 * Answers requests that Node's HTTP parser rejects before they reach the app (a bad character in the path or a
 * header, headers too large) with the same JSON error shape as the app's (OpenAI's under /v1), instead of a bare
 * status line.
 */
export function answerParserErrors(server: Server): Server {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node's own handler does: once a response has started on this connection, nothing more may be written.
    const responding = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (error.code === 'ECONNRESET' || !socket.writable || responding === true) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'The request headers are too large.']
        : [400, 'bad_request', 'The request is not valid HTTP.'];
    // A response to HEAD carries no body; the parser keeps the bytes it failed on, so the method can be seen, and
    // the path when they start with the request line: a request to /v1 gets OpenAI's error shape.
    const requestLine = /^([A-Z]+) (\S+)/.exec(
      (error as { rawPacket?: Buffer }).rawPacket?.subarray(0, 256).toString('latin1') ?? '',
    );
    const head = requestLine?.[1] === 'HEAD';
    const openAi = /^\/v1(?:[/?]|$)/.test(requestLine?.[2] ?? '');
    const shaped = openAi
      ? { error: { message, type: 'invalid_request_error', code, param: null } }
      : { error: { code, message } };
    const body = head ? '' : JSON.stringify(shaped);
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
  });
  return server;
}

/** Starts the app on a port and host, with parser errors answered as JSON. */
export function listen(app: express.Express, port: number, host: string, onListening: () => void): Server {
  return answerParserErrors(app.listen(port, host, onListening));
}
