import express, { type Request, type Router } from 'express';
import type { Engine } from '../../core/engine.js';
import { AppError, IndexUnavailableError } from '../../core/errors.js';
import type { SourceText } from '../../core/types.js';
import { methodNotAllowed } from '../middleware/errors.js';

export interface SourceRoutesOptions {
  engine: () => Engine | undefined;
}

/**
 * `GET /api/sources` lists the indexed sources; `GET /api/sources/{source}` returns one's citable text (for HTML,
 * the text extracted from it) with its title and section spans, so that any client can check a citation's offsets.
 * A source is looked up by name among the indexed ones: no path is ever built from the request.
 */
export function sourceRoutes(options: SourceRoutesOptions): Router {
  const router = express.Router();
  const currentEngine = (): Engine => {
    const engine = options.engine();
    if (engine === undefined) throw new IndexUnavailableError();
    return engine;
  };

  router
    .route('/sources')
    .get((_request, response) => {
      const { sources } = currentEngine().index;
      response.json({
        sources: sources.map(({ source, title, language, chars, chunks }) => ({
          source,
          title,
          language,
          chars,
          chunks,
        })),
      });
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/sources/*source')
    .get(async (request, response) => {
      response.json(await requestedSource(currentEngine(), request));
    })
    .all(methodNotAllowed('GET'));

  return router;
}

/**
 * The source a `…/sources/*source` request names, looked up among the engine's indexed sources, or a 404. Also what
 * the widget's source route answers with.
 */
export async function requestedSource(engine: Engine, request: Request): Promise<SourceText> {
  const segments = (request.params as { source?: string | string[] }).source;
  const name = Array.isArray(segments) ? segments.join('/') : (segments ?? '');
  const text = await engine.index.sourceText(name);
  if (text === undefined) {
    throw new AppError(404, 'source_not_found', `No indexed source is named ${JSON.stringify(name)}.`);
  }
  return text;
}
