/**
 * The few typed errors of the product. Each carries a stable `code` and the HTTP status it maps to;
 * the server's error middleware turns them into `{ "error": { "code", "message" } }`.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request is malformed or out of bounds. */
export class InvalidRequestError extends AppError {
  constructor(message: string, code = 'invalid_request') {
    super(400, code, message);
  }
}

/** No usable index is loaded. */
export class IndexUnavailableError extends AppError {
  constructor(message = 'The index is not loaded yet. Run `npm run ingest`, then try again.') {
    super(503, 'index_unavailable', message);
  }
}

/** The corpus folder is missing or holds no readable document. */
export class CorpusError extends Error {
  override name = 'CorpusError';
}

/** The index folder holds no index. */
export class IndexMissingError extends Error {
  override name = 'IndexMissingError';
}

/** An index file is unreadable, truncated or inconsistent with the manifest; the message names the file. */
export class IndexCorruptError extends Error {
  override name = 'IndexCorruptError';
}

/** The index was built with another embedder or format than the configuration asks for. */
export class IndexMismatchError extends Error {
  override name = 'IndexMismatchError';
}
