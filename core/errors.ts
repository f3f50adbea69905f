/**
 * The product's errors. Every one has a stable `code` and a message written for the person who reads it (a user at
 * a terminal, or a client of the API): an entry point prints the message of a `KnownError` and exits non-zero, and
 * treats any other error as a bug. The errors the HTTP API answers are `AppError`s, which add the status they map to;
 * the server's error middleware turns them into `{ "error": { "code", "message" } }`.
 */
export class KnownError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An error the HTTP API answers with its status and `{ "error": { "code", "message" } }`. */
export class AppError extends KnownError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
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
export class CorpusError extends KnownError {
  constructor(message: string) {
    super('invalid_corpus', message);
  }
}

/** The index folder holds no index. */
export class IndexMissingError extends KnownError {
  constructor(message: string) {
    super('index_missing', message);
  }
}

/** An index file is unreadable, truncated or inconsistent with the manifest; the message names the file. */
export class IndexCorruptError extends KnownError {
  constructor(message: string) {
    super('index_corrupt', message);
  }
}

/** The index was built with another embedder or format than the configuration asks for. */
export class IndexMismatchError extends KnownError {
  constructor(message: string) {
    super('index_mismatch', message);
  }
}

/**
 * A corpus file that cannot be read: encrypted, damaged, empty, without text, or not what its extension says. Ingest
 * skips the file and lists it with this message, a one-line reason.
 */
export class UnreadableDocumentError extends KnownError {
  constructor(reason: string) {
    super('unreadable_document', reason);
  }
}

/**
 * The database that holds the index (or the shared rate limit) cannot be reached or does not answer: at start-up a
 * message for the person starting the server, at question time a 503 the client may retry.
 */
export class DatabaseUnavailableError extends AppError {
  constructor(message: string) {
    super(503, 'database_unavailable', message);
  }
}

/** The database's schema is missing, older or newer than this version reads. */
export class DatabaseSchemaError extends KnownError {
  constructor(message: string) {
    super('database_schema', message);
  }
}
