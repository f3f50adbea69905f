import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Router } from 'express';
import { methodNotAllowed } from '../middleware/errors.js';
import type { OpenApiOptions } from '../openapi/openapi-document.js';

/** The folder of Swagger UI's built files, found through Node's resolution rather than a path into node_modules. */
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/**
 * `GET /openapi.json`, the OpenAPI document, and `GET /docs`, a reference page that renders it with Swagger UI,
 * whose files are served from this server so that the page holds to the strict CSP. The document is built on the
 * first request for it, once: its generator stays out of the server's start-up.
 */
export function docsRoutes(options: OpenApiOptions & { publicDir: string }): Router {
  const router = express.Router();
  let document: Promise<string> | undefined;
  const documentText = () =>
    (document ??= import('../openapi/openapi-document.js')
      .then(({ openApiDocument }) => JSON.stringify(openApiDocument(options)))
      .catch((error: unknown) => {
        document = undefined;
        throw error;
      }));
  router
    .route('/openapi.json')
    .get(async (_request, response) => {
      response.type('application/json').send(await documentText());
    })
    .all(methodNotAllowed('GET'));
  router
    .route('/docs')
    .get((_request, response) => {
      response.sendFile(path.join(options.publicDir, 'docs', 'index.html'));
    })
    .all(methodNotAllowed('GET'));
  router.use('/docs/swagger-ui', express.static(SWAGGER_UI_DIR, { index: false, fallthrough: true }));
  return router;
}
