/*
 * Drives the chat page (server/public) in real headless Chromium.
 *
 * The real app runs in process on a random loopback port, over an index built from a copy of corpus/.
 * Answers, citations, refusals, follow-ups and the 503 error come from the real /api/chat stream. Replies
 * the real app cannot produce on demand (HTML in documents, a warning, an `error` event, a non-JSON error)
 * are fulfilled in the browser; replies that must arrive slowly or never end (progressive tokens, Stop)
 * come from a small scripted server that serves the same page. Apps with API keys or a rate limit, and one over
 * a corpus of hostile documents, are started by the tests that need them.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../core/engine.js';
import type { Answer, ChatTurn, Citation } from '../core/types.js';
import { createApp } from '../server/app.js';
import { browserMissing, launchChromium } from './helpers/browser.js';
import { annualReport } from './helpers/make-pdf.js';
import { type RunningServer, serve } from './helpers/serve-app.js';
import { buildEngine, createWorkspace, PROJECT_ROOT, type Workspace } from './helpers/test-index.js';

const answerableQuestion = "Qui est le secrétaire général de l'OTAN ?";
const unanswerableQuestion = 'Quelle est la recette de la tarte tatin ?';
const firstQuestion = 'Que dit Mark Rutte de la Russie ?';
const followUpQuestion = 'et la Chine ?';

/** Every element that holds a finished reply (not a draft). */
const REPLY = '.message-answer, .message-refusal, .message-error';

interface ChatRequestBody {
  question: string;
  history?: ChatTurn[];
}

interface ErrorBody {
  error: { code: string; message: string };
}

interface StreamEvent {
  name: string;
  data: unknown;
}

/** Answers a POST /api/chat of the scripted server; `body` is the parsed JSON request. */
type ChatHandler = (request: IncomingMessage, response: ServerResponse, body: ChatRequestBody) => void | Promise<void>;

interface ScriptedServer extends RunningServer {
  /** Sets how the next requests to /api/chat are answered. */
  onChat: (handler: ChatHandler) => void;
}

/** Serves an app on a random loopback port; closing it also drops open connections. */
/** Serves the chat page with a /api/chat whose replies each test scripts, written as slowly as it likes. */
async function serveScripted(): Promise<ScriptedServer> {
  let handler: ChatHandler = (_request, response) => {
    response.writeHead(500).end();
  };
  const app = express();
  app.post('/api/chat', express.json(), async (request, response) => {
    await handler(request, response, request.body as ChatRequestBody);
  });
  app.use(express.static(path.join(PROJECT_ROOT, 'server', 'public')));
  const running = await serve(app);
  return {
    ...running,
    onChat: (next) => {
      handler = next;
    },
  };
}

/** Formats one Server-Sent Event as the server writes it. */
function sseEvent(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Starts an event-stream response. */
function startEventStream(response: ServerResponse): void {
  response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
  response.flushHeaders();
}

/** Splits an event-stream body into its events, with their JSON data parsed. */
function parseEventStream(body: string): StreamEvent[] {
  const events: StreamEvent[] = [];
  for (const block of body.replace(/\r\n?/g, '\n').split('\n\n')) {
    const lines = block.split('\n');
    const name =
      lines
        .find((line) => line.startsWith('event:'))
        ?.slice(6)
        .trim() ?? 'message';
    const data = lines
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data !== '') events.push({ name, data: JSON.parse(data) as unknown });
  }
  return events;
}

/** Posts to /api/chat directly and returns the response with its events (or its JSON error body). */
async function fetchChat(
  origin: string,
  question: string,
  history?: ChatTurn[],
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; headers: Headers; events: StreamEvent[]; body: unknown }> {
  const response = await fetch(`${origin}/api/chat`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(history === undefined ? { question } : { question, history }),
  });
  const type = response.headers.get('content-type') ?? '';
  const text = await response.text();
  const isStream = type.startsWith('text/event-stream');
  return {
    status: response.status,
    type,
    headers: response.headers,
    events: isStream ? parseEventStream(text) : [],
    body: isStream ? undefined : (JSON.parse(text) as unknown),
  };
}

/** A GET with the path sent exactly as written (fetch would normalise `..` and decode nothing). */
function rawGet(origin: string, rawPath: string): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, path: rawPath, method: 'GET' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'] ?? '', body }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

/** Asks the real /api/chat directly, to know what the page should show: the `done` event's answer. */
async function fetchAnswer(origin: string, question: string, history?: ChatTurn[]): Promise<Answer> {
  const { status, events } = await fetchChat(origin, question, history);
  expect(status).toBe(200);
  const done = events.find((event) => event.name === 'done');
  expect(done).toBeDefined();
  return done?.data as Answer;
}

/** An answer as the page keeps it in the history: without its [n] markers. */
function withoutMarkers(answer: string): string {
  return answer.replace(/\s?\[\d+\]/g, '');
}

/** The answer shown on the page: each [n] marker is a button showing n. */
function asShown(answer: string): string {
  return answer.replace(/\[(\d+)\]/g, '$1');
}

/** Types a question and sends it with Enter, then waits for its finished reply bubble. */
async function ask(page: Page, question: string): Promise<void> {
  const repliesBefore = await page.locator(REPLY).count();
  await page.locator('#question').fill(question);
  await page.locator('#question').press('Enter');
  await page.locator(REPLY).nth(repliesBefore).waitFor();
}

/** Types a question and sends it with Enter, without waiting for the reply. */
async function send(page: Page, question: string): Promise<void> {
  await page.locator('#question').fill(question);
  await page.locator('#question').press('Enter');
}

/** Resolves after `milliseconds`. */
function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** A promise with its resolve function, for a test to release a scripted reply. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** The id of the focused element. */
function focusedId(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.activeElement?.id);
}

const citationOne: Citation = {
  n: 1,
  chunkId: 'otan-1',
  source: 'corpus/otan-communique-sabotage-russie.fr.txt',
  title: 'OTAN : sabotage et Russie',
  section: [],
  passage:
    'Le secrétaire général, Mark Rutte, a déclaré que « la Russie et la Chine tentent de déstabiliser nos pays ».',
  quote: '« la Russie et la Chine tentent de déstabiliser nos pays »',
  start: 10,
  end: 70,
  score: 0.8,
};

const candidateOne = {
  n: 1,
  chunkId: citationOne.chunkId,
  source: citationOne.source,
  title: citationOne.title,
  passage: citationOne.passage,
  start: 0,
  end: 120,
};

/** A verified answer as the `done` event carries it. */
function doneAnswer(fields: Partial<Answer> = {}): Answer {
  return {
    answer: 'Mark Rutte a déclaré que « la Russie et la Chine tentent de déstabiliser nos pays » [1].',
    found: true,
    language: 'fr',
    mode: 'extractive-fallback',
    citations: [citationOne],
    timings: { retrieveMs: 1, totalMs: 2 },
    ...fields,
  };
}

/**
 * Documents carrying markup that would run if the page inserted it as HTML: each sentence holds words that a
 * question in HOSTILE_QUESTIONS retrieves. Titles (first line, heading) are hostile too.
 */
const HOSTILE_CORPUS: Record<string, string> = {
  'corpus/hostile.txt': [
    'Note <img src=x onerror="window.__pwned = 12"> sur la flotte de Wiesbaden',
    '',
    'Le rapport <script>window.__pwned = 1</script> mentionne Wiesbaden et la flotte.',
    'Voir <img src=x onerror="window.__pwned = 2"> le commandement de Wiesbaden.',
    'Cliquez <a href="javascript:window.__pwned=3">ici</a> pour le budget de Wiesbaden.',
    '',
  ].join('\n'),
  'corpus/hostile.html': [
    '<!doctype html>',
    '<html lang="fr"><head><title>Logistique <script>window.__pwned = 5</script> à Coblence</title>',
    '<script>window.__pwned = 6</script></head>',
    '<body>',
    '<h1>Logistique à Coblence</h1>',
    '<p>Le dépôt de carburant de Coblence <script>window.__pwned = 7</script> alimente les convois du génie.</p>',
    '<p>Les convois du génie partent de Coblence <img src=x onerror="window.__pwned = 8"> chaque mardi.</p>',
    '<p>Le plan des convois de Coblence est <a href="javascript:window.__pwned=9">ici</a> pour les officiers.</p>',
    '<p>Le mémo du dépôt de Coblence cite &lt;img src=x onerror="window.__pwned = 11"&gt; sans danger.</p>',
    '</body></html>',
    '',
  ].join('\n'),
  'corpus/hostile.md': [
    '# Exercice naval <script>window.__pwned = 13</script> en Baltique',
    '',
    "L'exercice naval en Baltique réunit douze frégates. Le détail est [ici](javascript:window.__pwned=4) pour les marins.",
    '',
    'Les frégates de l\'exercice naval <img src=x onerror="window.__pwned = 10"> rentrent à Kiel en juin.',
    '',
  ].join('\n'),
};

const HOSTILE_QUESTIONS = [
  'Que mentionne le rapport sur Wiesbaden et la flotte ?',
  'Quel est le budget de Wiesbaden ?',
  'Qui alimente les convois du génie à Coblence ?',
  'Que cite le mémo du dépôt de Coblence ?',
  "Combien de frégates réunit l'exercice naval en Baltique ?",
  'Quand les frégates rentrent-elles à Kiel ?',
];

/**
 * Paths that try to climb out of server/public, sent raw. server/public is two levels below the project root, so
 * `..` once reaches server/app.ts, twice package.json; the deep ones reach /etc/passwd.
 */
const TRAVERSAL_PATHS = [
  '/../package.json',
  '/%2e%2e/package.json',
  '/..%2fpackage.json',
  '/chat.js/../../package.json',
  '/%2e%2e%2f%2e%2e%2fetc/passwd',
  '/../app.ts',
  '/%2e%2e/app.ts',
  '/..%2fapp.ts',
  '/.%2e/app.ts',
  '/..%5capp.ts',
  '/%252e%252e/app.ts',
  '/../../package.json',
  '/%2e%2e/%2e%2e/package.json',
  '/..%2f..%2fpackage.json',
  '/%2e%2e%2f%2e%2e%2fpackage.json',
  '/chat.js/../../../package.json',
  `/${'..%2f'.repeat(12)}etc/passwd`,
  `/${'%2e%2e/'.repeat(12)}etc/passwd`,
  '//etc/passwd',
  '/chat.js%00.html',
];

/** Text of the files those paths aim at, which no reply may contain. */
const OUTSIDE_FILE_MARKERS = ['devDependencies', 'createApp', 'root:x:0:0'];

describe.skipIf(browserMissing)('chat page in Chromium', () => {
  let workspace: Workspace;
  let engine: Engine;
  let server: RunningServer;
  let unloadedServer: RunningServer;
  let scripted: ScriptedServer;
  let browser: Browser;

  beforeAll(async () => {
    workspace = await createWorkspace();
    engine = await buildEngine(workspace);
    server = await serve(createApp({ engine: () => engine }));
    unloadedServer = await serve(createApp({ engine: () => undefined }));
    scripted = await serveScripted();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await unloadedServer?.close();
    await scripted?.close();
    await workspace?.cleanup();
  });

  /** Opens the chat page in a fresh browser context. */
  async function openPage(width = 1024, height = 768, origin = server.origin): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    return page;
  }

  it('answers with citation markers that open the quoted passage from the keyboard', async () => {
    const expected = await fetchAnswer(server.origin, answerableQuestion);
    expect(expected.found).toBe(true);
    const page = await openPage();

    await ask(page, answerableQuestion);
    const shownAnswer = await page.locator('.message-answer .message-text').textContent();
    expect(shownAnswer).toBe(asShown(expected.answer));
    const markers = page.locator('.message-answer .marker');
    expect(await markers.count()).toBeGreaterThan(0);

    const marker = markers.first();
    const citationNumber = Number(await marker.textContent());
    const citation = expected.citations.find((candidate) => candidate.n === citationNumber);
    expect(citation).toBeDefined();

    await marker.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('#passage');
    await expect.poll(() => dialog.evaluate((node) => (node as HTMLDialogElement).open)).toBe(true);
    expect(await page.locator('#passage-source').textContent()).toBe(citation?.source);
    expect(await page.locator('#passage-document').textContent()).toBe(citation?.title);
    expect(await page.locator('#passage-text').textContent()).toBe(citation?.passage);
    expect(await page.locator('#passage-text mark').textContent()).toBe(citation?.quote);

    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.evaluate((node) => (node as HTMLDialogElement).open)).toBe(false);
    expect(await marker.evaluate((node) => node === document.activeElement)).toBe(true);

    await page.context().close();
  });

  it('shows the page of a citation from a PDF in the sources, on the marker and with the passage', async () => {
    const workspace = await createWorkspace({ 'corpus/rapport.pdf': await annualReport() });
    const pdfServer = await serve(createApp({ engine: await buildEngine(workspace).then((built) => () => built) }));
    try {
      const question = 'De combien a progressé le chiffre d’affaires de la société Exemple ?';
      const expected = await fetchAnswer(pdfServer.origin, question);
      const citation = expected.citations[0];
      expect(citation).toMatchObject({ source: 'corpus/rapport.pdf', page: 2 });
      const page = await openPage(1024, 768, pdfServer.origin);

      await ask(page, question);
      expect(await page.locator('.message-answer .message-sources').textContent()).toBe(
        `Sources: ${citation?.title}, p. 2`,
      );
      const marker = page.locator('.message-answer .marker').first();
      expect(await marker.getAttribute('title')).toBe(`${citation?.title}, p. 2`);
      await marker.click();
      expect(await page.locator('#passage-source').textContent()).toBe('corpus/rapport.pdf, p. 2');
      expect(await page.locator('#passage-text mark').textContent()).toBe(citation?.quote);
      await page.context().close();
    } finally {
      await pdfServer.close();
      await workspace.cleanup();
    }
  });

  it('closes the passage with its Close button and returns focus to the marker', async () => {
    const page = await openPage();
    await ask(page, answerableQuestion);
    const marker = page.locator('.message-answer .marker').first();

    await marker.focus();
    await page.keyboard.press('Space');
    expect(await focusedId(page)).toBe('passage-close');
    await page.keyboard.press('Enter');
    expect(await page.locator('#passage').evaluate((node) => (node as HTMLDialogElement).open)).toBe(false);
    expect(await marker.evaluate((node) => node === document.activeElement)).toBe(true);

    await page.context().close();
  });

  it('opens the whole document a long manual page cites, with the quote marked at its offsets and in view', async () => {
    const filler = Array.from(
      { length: 60 },
      (_unused, index) =>
        `<p>Le paragraphe ${index + 1} décrit un réglage ordinaire de l’outil, sans rapport avec la question.</p>`,
    ).join('');
    const manual = await createWorkspace(
      {
        'manuel/reference.html':
          '<html><head><title>Manuel de référence</title></head><body><h1>Manuel de référence</h1>' +
          `<h2>Réglages</h2>${filler}<h2>Journal des actions</h2>` +
          '<p>Le journal des actions se trouve dans le fichier /var/log/paqueteur.log par défaut.</p></body></html>',
      },
      { CORPUS_DIR: 'manuel' },
    );
    const manualServer = await serve(createApp({ engine: await buildEngine(manual).then((built) => () => built) }));
    try {
      const question = 'Où se trouve le journal des actions ?';
      const expected = await fetchAnswer(manualServer.origin, question);
      const [citation] = expected.citations;
      expect(citation?.title).toBe('Manuel de référence › Journal des actions');
      const served = (await (await fetch(`${manualServer.origin}/api/sources/${citation?.source}`)).json()) as {
        text: string;
      };

      const page = await openPage(1024, 768, manualServer.origin);
      await ask(page, question);
      await page.locator('.message-answer .marker').first().click();
      expect(await page.locator('#passage-document').textContent()).toBe(citation?.title);
      await page.locator('#passage-whole').click();
      const text = page.locator('#passage-text');
      await expect.poll(() => text.evaluate((node) => node.classList.contains('passage-whole'))).toBe(true);
      expect(await text.textContent()).toBe(served.text);
      expect(await text.locator('mark').textContent()).toBe(citation?.quote);
      // The mark sits at the citation's offsets in the whole text, and scrolled into the visible part of the view.
      expect(await text.evaluate((node) => node.firstChild?.textContent?.length)).toBe(citation?.start);
      const inView = await text.evaluate((node) => {
        const mark = node.querySelector('mark')?.getBoundingClientRect();
        const view = node.getBoundingClientRect();
        return mark !== undefined && node.scrollTop > 0 && mark.top >= view.top && mark.bottom <= view.bottom;
      });
      expect(inView).toBe(true);
      expect(await page.locator('#passage-whole').getAttribute('aria-pressed')).toBe('true');

      await page.locator('#passage-whole').click();
      expect(await text.textContent()).toBe(citation?.passage);
      await page.context().close();
    } finally {
      await manualServer.close();
      await manual.cleanup();
    }
  });

  it('fits a 360px wide screen without horizontal scrolling', async () => {
    const page = await openPage(360, 740);
    await ask(page, answerableQuestion);
    await page.locator('.message-answer .marker').first().click();

    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(360);

    await page.context().close();
  });

  it('shows a refusal distinctly when nothing relevant is found', async () => {
    const expected = await fetchAnswer(server.origin, unanswerableQuestion);
    expect(expected.found).toBe(false);
    const page = await openPage();

    await ask(page, unanswerableQuestion);
    const refusal = page.locator('.message-refusal');
    expect(await refusal.locator('.message-text').textContent()).toBe(expected.answer);
    expect(await refusal.locator('.message-label').textContent()).toBe('No answer found');
    expect(await page.locator('.message-answer').count()).toBe(0);
    expect(await page.locator('.marker').count()).toBe(0);

    await page.context().close();
  });

  it('shows the message of a server error', async () => {
    const reply = await fetchChat(unloadedServer.origin, answerableQuestion);
    expect(reply.status).toBe(503);
    expect(reply.type).toMatch(/^application\/json/);
    const { error } = reply.body as { error: { code: string; message: string } };
    expect(error.code).toBe('index_unavailable');
    const page = await openPage(1024, 768, unloadedServer.origin);

    await ask(page, answerableQuestion);
    expect(await page.locator('.message-error .message-text').textContent()).toBe(error.message);
    expect(await page.locator('.message-error').textContent()).not.toContain('{');

    await page.context().close();
  });

  it('shows an error message containing HTML as text', async () => {
    const page = await openPage();
    const message = 'No index is loaded yet <b>try again</b>.';
    await page.route('**/api/chat', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'index_unavailable', message } }),
      }),
    );

    await ask(page, answerableQuestion);
    const error = page.locator('.message-error .message-text');
    expect(await error.textContent()).toBe(message);
    expect(await error.locator('b').count()).toBe(0);

    await page.context().close();
  });

  it('shows a readable message when the error body is not JSON', async () => {
    const page = await openPage();
    await page.route('**/api/chat', (route) =>
      route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body>Bad gateway</body></html>' }),
    );

    await ask(page, answerableQuestion);
    const error = await page.locator('.message-error .message-text').textContent();
    expect(error).toContain('HTTP 502');
    expect(error).not.toContain('<html>');

    await page.context().close();
  });

  it('renders document text containing HTML as plain text', async () => {
    const page = await openPage();
    const passage = 'Avant <script>window.hacked = 1</script> <img src=x onerror="window.hacked = 1"> après.';
    const quote = '<img src=x onerror="window.hacked = 1">';
    const answer = 'Texte <img src=x onerror="window.hacked = 1"> [1] et [9].';
    const citation = { ...citationOne, source: 'corpus/<b>x</b>.txt', title: '<i>t</i>', passage, quote };
    await page.route('**/api/chat', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/event-stream',
        body:
          sseEvent('citations', { rewrittenQuestion: '<b>q</b>', passages: [{ ...candidateOne, passage }] }) +
          sseEvent('token', { text: 'Texte <img src=x onerror="window.hacked = 1"> [1]' }) +
          sseEvent('done', doneAnswer({ answer, mode: 'extractive', citations: [citation] })),
      }),
    );

    await ask(page, answerableQuestion);
    expect(await page.locator('.message-answer .marker').count()).toBe(1);
    expect(await page.locator('.message-answer .message-text').textContent()).toContain('[9]');
    expect(await page.locator('.message-answer .message-searched').textContent()).toBe('Searched for: <b>q</b>');
    await page.locator('.message-answer .marker').click();

    expect(await page.locator('#passage-text').textContent()).toBe(passage);
    expect(await page.locator('#passage-text mark').textContent()).toBe(quote);
    expect(await page.locator('#passage-source').textContent()).toBe('corpus/<b>x</b>.txt');
    expect(await page.locator('main img, main b, dialog img, dialog script, dialog b, dialog i').count()).toBe(0);
    expect(await page.evaluate(() => (window as { hacked?: number }).hacked)).toBeUndefined();

    await page.context().close();
  });

  it('shows a busy state with a Stop button and ignores a second submit while waiting', async () => {
    const page = await openPage();
    let requests = 0;
    const released = gate();
    await page.route('**/api/chat', async (route) => {
      requests += 1;
      await released.opened;
      await route.continue();
    });

    await send(page, answerableQuestion);
    await page.locator('.message-waiting').waitFor();
    expect(await page.locator('#send').isDisabled()).toBe(true);
    expect(await page.locator('#send').isVisible()).toBe(false);
    expect(await page.locator('#stop').isVisible()).toBe(true);
    expect(await page.locator('#log').getAttribute('aria-busy')).toBe('true');
    await send(page, answerableQuestion);
    expect(await page.locator('.message-question').count()).toBe(1);

    released.open();
    await page.locator('.message-answer').waitFor();
    expect(requests).toBe(1);
    expect(await page.locator('#send').isDisabled()).toBe(false);
    expect(await page.locator('#stop').isVisible()).toBe(false);
    expect(await page.locator('#log').getAttribute('aria-busy')).toBe('false');
    expect(await page.locator('.message-waiting').count()).toBe(0);

    await page.context().close();
  });

  it('runs under a strict Content-Security-Policy', async () => {
    const context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) violations.push(message.text());
    });
    await page.route(`${server.origin}/`, async (route) => {
      const response = await route.fetch();
      await route.fulfill({
        response,
        headers: { ...response.headers(), 'content-security-policy': "default-src 'self'" },
      });
    });
    await page.goto(`${server.origin}/`);

    await ask(page, answerableQuestion);
    expect(await page.locator('.message-answer .marker').count()).toBeGreaterThan(0);
    expect(violations).toEqual([]);

    await context.close();
  });

  it('sends the previous exchange as history with a follow-up, and forgets it on New conversation', async () => {
    const first = await fetchChat(server.origin, firstQuestion);
    expect(first.status).toBe(200);
    const names = first.events.map((event) => event.name);
    expect(names[0]).toBe('citations');
    expect(names.at(-1)).toBe('done');
    expect(names.slice(1, -1).every((name) => name === 'token')).toBe(true);
    const expectedFirst = first.events.at(-1)?.data as Answer;
    expect(expectedFirst.found).toBe(true);
    const page = await openPage();
    const requests: ChatRequestBody[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/api/chat')) requests.push(request.postDataJSON() as ChatRequestBody);
    });

    await ask(page, firstQuestion);
    expect(await page.locator('.message-answer .message-text').textContent()).toBe(asShown(expectedFirst.answer));
    expect(await page.locator('.message-answer .marker').count()).toBeGreaterThan(0);
    await ask(page, followUpQuestion);

    expect(requests).toHaveLength(2);
    expect(requests[0]).toEqual({ question: firstQuestion });
    expect(requests[1]).toEqual({
      question: followUpQuestion,
      history: [
        { role: 'user', content: firstQuestion },
        { role: 'assistant', content: withoutMarkers(expectedFirst.answer) },
      ],
    });
    const expectedFollowUp = await fetchAnswer(server.origin, followUpQuestion, requests[1]?.history);
    const followUpReply = page.locator(REPLY).nth(1);
    expect(await followUpReply.locator('.message-text').textContent()).toBe(
      expectedFollowUp.found ? asShown(expectedFollowUp.answer) : expectedFollowUp.answer,
    );
    expect(expectedFollowUp.rewrittenQuestion).toContain('Chine');
    expect(await followUpReply.locator('.message-searched').textContent()).toBe(
      `Searched for: ${expectedFollowUp.rewrittenQuestion}`,
    );

    await page.locator('#new-conversation').click();
    expect(await page.locator('#log').evaluate((log) => log.childElementCount)).toBe(0);
    expect(await focusedId(page)).toBe('question');
    await ask(page, followUpQuestion);
    expect(requests[2]).toEqual({ question: followUpQuestion });
    expect(await page.locator('.message-searched').count()).toBe(0);

    await page.context().close();
  });

  it('streams tokens as plain text, then shows the verified answer with markers and its warning', async () => {
    const page = await openPage();
    const warning = 'Answered from the documents directly: the language model did not respond.';
    await page.route('**/api/chat', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/event-stream; charset=utf-8',
        body:
          sseEvent('citations', { rewrittenQuestion: firstQuestion, passages: [candidateOne] }) +
          sseEvent('token', { text: 'Mark Rutte a déclaré que ' }) +
          sseEvent('token', { text: '« la Russie et la Chine tentent ' }) +
          sseEvent('token', { text: 'de déstabiliser nos pays » [1].' }) +
          ': keep-alive comment\n\n' +
          sseEvent('done', doneAnswer({ warning })),
      }),
    );

    await ask(page, firstQuestion);
    const answer = page.locator('.message-answer');
    expect(await answer.locator('.message-label').textContent()).toBe('Answer');
    expect(await answer.locator('.message-text').textContent()).toBe(asShown(doneAnswer().answer));
    expect(await answer.locator('.marker').count()).toBe(1);
    expect(await answer.locator('.message-note').textContent()).toBe(warning);
    expect(await answer.locator('.message-note').isVisible()).toBe(true);
    expect(await answer.locator('.message-searched').count()).toBe(0); // searched for what was typed
    expect(await page.locator('.message-streaming').count()).toBe(0);
    expect(await page.locator('#log').getAttribute('aria-busy')).toBe('false');

    await page.context().close();
  });

  it('shows tokens as they arrive, even split across chunks, without markers until the answer is verified', async () => {
    const page = await openPage(1024, 768, scripted.origin);
    const released = gate();
    scripted.onChat(async (_request, response) => {
      startEventStream(response);
      response.write(sseEvent('citations', { rewrittenQuestion: 'Que dit Mark Rutte de la Chine ?', passages: [] }));
      response.write(sseEvent('token', { text: 'Mark Rutte a déclaré que ' }));
      const split = sseEvent('token', { text: '« la Russie et la Chine » [1]' });
      response.write(split.slice(0, 30));
      await delay(100);
      response.write(split.slice(30));
      await released.opened;
      response.end(sseEvent('done', doneAnswer()));
    });

    await send(page, followUpQuestion);
    const draft = page.locator('.message-streaming');
    await expect
      .poll(() => draft.locator('.message-text').textContent())
      .toBe('Mark Rutte a déclaré que « la Russie et la Chine » [1]');
    expect(await draft.locator('.message-label').textContent()).toBe('Answering…');
    expect(await draft.locator('.message-searched').textContent()).toBe(
      'Searched for: Que dit Mark Rutte de la Chine ?',
    );
    expect(await page.locator('.marker').count()).toBe(0);
    expect(await page.locator('#log').getAttribute('aria-busy')).toBe('true');

    released.open();
    await page.locator('.message-answer').waitFor();
    expect(await page.locator('.message-answer .message-text').textContent()).toBe(asShown(doneAnswer().answer));
    expect(await page.locator('.message-answer .marker').count()).toBe(1);
    expect(await page.locator('.message-answer .message-note').count()).toBe(0);
    expect(await page.locator('.message-streaming').count()).toBe(0);

    await page.context().close();
  });

  it('stops a streaming reply from the keyboard, keeps its text and leaves it out of the history', async () => {
    const page = await openPage(1024, 768, scripted.origin);
    const requests: ChatRequestBody[] = [];
    let connectionClosed: () => void = () => undefined;
    const closed = new Promise<number>((resolve) => {
      connectionClosed = () => resolve(Date.now());
    });
    scripted.onChat((_request, response, body) => {
      requests.push(body);
      startEventStream(response);
      response.write(sseEvent('citations', { rewrittenQuestion: firstQuestion, passages: [candidateOne] }));
      response.write(sseEvent('token', { text: 'Mark Rutte a déclaré' }));
      response.on('close', () => {
        if (!response.writableFinished) connectionClosed();
      });
    });

    await send(page, firstQuestion);
    await expect
      .poll(() => page.locator('.message-streaming .message-text').textContent())
      .toBe('Mark Rutte a déclaré');
    expect(await focusedId(page)).toBe('question');
    await page.keyboard.press('Tab');
    expect(await focusedId(page)).toBe('stop');
    const stoppedAt = Date.now();
    await page.keyboard.press('Enter');

    await expect.poll(() => page.locator('#log').getAttribute('aria-busy')).toBe('false');
    const stopped = page.locator('.message-stopped');
    expect(await stopped.locator('.message-label').textContent()).toBe('Stopped');
    expect(await stopped.locator('.message-text').textContent()).toBe('Mark Rutte a déclaré');
    expect(await stopped.locator('.message-note').isVisible()).toBe(true);
    expect(await page.locator('#stop').isVisible()).toBe(false);
    expect(await page.locator('#send').isEnabled()).toBe(true);
    expect(await focusedId(page)).toBe('question');
    const closedAt = await Promise.race([closed, delay(2_000).then(() => Number.NaN)]);
    expect(closedAt - stoppedAt).toBeLessThan(2_000);

    scripted.onChat((_request, response, body) => {
      requests.push(body);
      startEventStream(response);
      response.end(sseEvent('done', doneAnswer()));
    });
    await ask(page, followUpQuestion);
    expect(requests).toEqual([{ question: firstQuestion }, { question: followUpQuestion }]);

    await page.context().close();
  });

  it('stops a streaming reply with Escape in the question box', async () => {
    const page = await openPage(1024, 768, scripted.origin);
    scripted.onChat((_request, response) => {
      startEventStream(response);
      response.write(sseEvent('token', { text: 'Partiel' }));
    });

    await send(page, firstQuestion);
    await page.locator('.message-streaming').waitFor();
    await page.locator('#question').press('Escape');
    await page.locator('.message-stopped').waitFor();
    expect(await page.locator('.message-stopped .message-text').textContent()).toBe('Partiel');
    expect(await page.locator('#log').getAttribute('aria-busy')).toBe('false');

    await page.context().close();
  });

  it('replaces the draft with the message of an error event', async () => {
    const page = await openPage();
    const message = 'The language model failed <b>mid-answer</b>.';
    await page.route('**/api/chat', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/event-stream',
        body:
          sseEvent('citations', { rewrittenQuestion: firstQuestion, passages: [candidateOne] }) +
          sseEvent('token', { text: 'Un début de réponse' }) +
          sseEvent('error', { error: { code: 'generation_failed', message } }),
      }),
    );

    await ask(page, firstQuestion);
    const error = page.locator('.message-error .message-text');
    expect(await error.textContent()).toBe(message);
    expect(await error.locator('b').count()).toBe(0);
    expect(await page.locator('#log').textContent()).not.toContain('Un début de réponse');
    expect(await page.locator('#log').getAttribute('aria-busy')).toBe('false');

    await page.context().close();
  });

  it('says so when the stream ends before the answer is complete', async () => {
    const page = await openPage();
    await page.route('**/api/chat', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/event-stream',
        body: sseEvent('token', { text: 'Un début' }) + 'event: done\ndata: {"answer":',
      }),
    );

    await ask(page, firstQuestion);
    expect(await page.locator('.message-error .message-text').textContent()).toContain('closed before the answer');

    await page.context().close();
  });

  it('asks for an API key, keeps it in sessionStorage only and sends it with every later question', async () => {
    const apiKey = 'test-key-123';
    const keyed = await serve(createApp({ engine: () => engine, http: { apiKeys: [apiKey] } }));
    try {
      const missing = await fetchChat(keyed.origin, answerableQuestion);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      const missingError = (missing.body as ErrorBody).error;
      expect(missingError.code).toBe('missing_api_key');
      const invalid = await fetchChat(keyed.origin, answerableQuestion, undefined, {
        Authorization: 'Bearer wrong-key',
      });
      expect(invalid.status).toBe(401);
      const invalidError = (invalid.body as ErrorBody).error;
      expect(invalidError.code).toBe('invalid_api_key');
      const expected = await fetchAnswer(server.origin, answerableQuestion);
      expect(expected.found).toBe(true);

      const page = await openPage(360, 740, keyed.origin);
      const authorizations: Promise<string | undefined>[] = [];
      page.on('request', (request) => {
        if (request.url().endsWith('/api/chat')) {
          authorizations.push(request.allHeaders().then((headers) => headers.authorization));
        }
      });
      const keyForm = page.locator('#key-form');
      const keyInput = page.getByLabel('API key', { exact: true });
      expect(await keyForm.isVisible()).toBe(false);

      // No key: the form appears with the server's message, in place of an answer.
      await send(page, answerableQuestion);
      await keyForm.waitFor();
      expect(await page.locator('#key-message').textContent()).toBe(missingError.message);
      expect(await keyInput.getAttribute('type')).toBe('password');
      expect(await focusedId(page)).toBe('api-key');
      expect(await page.locator('.message-key .message-label').textContent()).toBe('API key needed');
      expect(await page.locator('.message-answer').count()).toBe(0);
      expect(await page.locator('#log').getAttribute('aria-busy')).toBe('false');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      expect(await keyInput.evaluate((input) => getComputedStyle(input).outlineStyle)).toBe('solid');

      // An empty key is not sent.
      await page.keyboard.press('Enter');
      expect(await page.locator('#key-message').textContent()).toBe('Enter the API key.');
      expect(await keyInput.getAttribute('aria-invalid')).toBe('true');
      expect(await focusedId(page)).toBe('api-key');

      // A wrong key: the server's message and the form again, and the key is forgotten.
      await page.keyboard.type('wrong-key');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#key-message').textContent()).toBe(invalidError.message);
      await keyForm.waitFor();
      expect(await keyInput.inputValue()).toBe('');
      expect(await focusedId(page)).toBe('api-key');
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
      expect(await page.locator('.message-answer').count()).toBe(0);

      // The right key, submitted with the keyboard from the button: the same question is answered.
      await keyInput.fill(apiKey);
      await page.keyboard.press('Tab');
      expect(await focusedId(page)).toBe('use-key');
      expect(await page.locator('#use-key').evaluate((button) => getComputedStyle(button).outlineStyle)).toBe('solid');
      await page.keyboard.press('Enter');
      await page.locator('.message-answer').waitFor();
      expect(await page.locator('.message-answer .message-text').textContent()).toBe(asShown(expected.answer));
      expect(await page.locator('.message-answer .marker').count()).toBeGreaterThan(0);
      expect(await page.locator('.message-question').count()).toBe(1);
      expect(await page.locator('.message-key').count()).toBe(0);
      expect(await keyForm.isVisible()).toBe(false);
      expect(await focusedId(page)).toBe('question');

      // A second question, and another after a reload, go through without asking again.
      await ask(page, firstQuestion);
      expect(await page.locator('.message-answer').count()).toBe(2);
      await page.reload();
      await ask(page, answerableQuestion);
      expect(await page.locator('.message-answer').count()).toBe(1);
      expect(await keyForm.isVisible()).toBe(false);

      expect(await Promise.all(authorizations)).toEqual([
        undefined,
        'Bearer wrong-key',
        `Bearer ${apiKey}`,
        `Bearer ${apiKey}`,
        `Bearer ${apiKey}`,
      ]);
      const storage = await page.evaluate(() => ({
        session: Object.values(sessionStorage),
        local: Object.keys(localStorage).map((name) => `${name}=${localStorage.getItem(name)}`),
      }));
      expect(storage.session).toEqual([apiKey]);
      expect(storage.local).toEqual([]);
      expect(page.url()).not.toContain(apiKey);

      await page.context().close();
    } finally {
      await keyed.close();
    }
  });

  it('shows the rate limit message and when to try again', async () => {
    const limited = await serve(createApp({ engine: () => engine, http: { rateLimitPerMinute: 1 } }));
    try {
      const page = await openPage(1024, 768, limited.origin);
      await ask(page, answerableQuestion);
      expect(await page.locator('.message-answer').count()).toBe(1);

      await ask(page, firstQuestion);
      const limit = await fetchChat(limited.origin, firstQuestion);
      expect(limit.status).toBe(429);
      const { error } = limit.body as ErrorBody;
      expect(error.code).toBe('rate_limited');
      const retryAfter = limit.headers.get('retry-after');
      expect(retryAfter).toMatch(/^\d+$/);
      const shown = page.locator('.message-error');
      expect(await shown.locator('.message-text').textContent()).toBe(error.message);
      // The page's request came a moment before this one: its wait may be a second longer.
      const wait = /^Try again in (\d+) s\.$/.exec((await shown.locator('.message-retry').textContent()) ?? '');
      expect(Number(wait?.[1]) - Number(retryAfter)).toBeOneOf([0, 1]);
      expect(await page.locator('.message-answer').count()).toBe(1);

      // Without Retry-After, the message alone.
      await page.route('**/api/chat', (route) =>
        route.fulfill({
          status: 429,
          contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'rate_limited', message: 'Slow down <b>please</b>.' } }),
        }),
      );
      await ask(page, firstQuestion);
      const second = page.locator('.message-error').nth(1);
      expect(await second.locator('.message-text').textContent()).toBe('Slow down <b>please</b>.');
      expect(await second.locator('.message-retry').count()).toBe(0);
      expect(await second.locator('b').count()).toBe(0);

      await page.context().close();
    } finally {
      await limited.close();
    }
  });

  it('shows hostile documents as inert text under the server CSP', async () => {
    const hostile = await createWorkspace(HOSTILE_CORPUS);
    const hostileServer = await serve(createApp({ engine: await buildEngine(hostile).then((built) => () => built) }));
    try {
      // Ask the API first: each question must cite a hostile passage, or the test would prove nothing.
      const expected = new Map<string, Answer>();
      for (const question of HOSTILE_QUESTIONS) {
        const answer = await fetchAnswer(hostileServer.origin, question);
        expect(answer.found, question).toBe(true);
        expect(answer.citations.length, question).toBeGreaterThan(0);
        expected.set(question, answer);
      }
      const cited = new Set([...expected.values()].flatMap((answer) => answer.citations.map((c) => c.source)));
      expect([...cited].sort()).toEqual(Object.keys(HOSTILE_CORPUS).sort());

      const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
      context.setDefaultTimeout(10_000);
      const page = await context.newPage();
      const consoleViolations: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy|Refused to/i.test(message.text())) consoleViolations.push(message.text());
      });
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      // Init scripts run outside the page's CSP: this one only records the violations Chromium reports.
      await page.addInitScript(() => {
        const seen: string[] = [];
        (window as { __violations?: string[] }).__violations = seen;
        document.addEventListener('securitypolicyviolation', (event) => {
          seen.push(`${event.effectiveDirective} ${event.blockedURI}`);
        });
      });
      const response = await page.goto(`${hostileServer.origin}/`);
      const csp = response?.headers()['content-security-policy'] ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');

      const passagesShown: string[] = [];
      const titlesShown: string[] = [];
      for (const question of HOSTILE_QUESTIONS) {
        const answer = expected.get(question) as Answer;
        await ask(page, question);
        const reply = page.locator(REPLY).last();
        expect(await reply.locator('.message-text').textContent()).toBe(asShown(answer.answer));
        const markers = reply.locator('.marker');
        const count = await markers.count();
        expect(count, question).toBeGreaterThan(0);
        for (let index = 0; index < count; index += 1) {
          const marker = markers.nth(index);
          const citationNumber = Number(await marker.textContent());
          const citation = answer.citations.find((candidate) => candidate.n === citationNumber);
          expect(citation, question).toBeDefined();
          await marker.click();
          expect(await page.locator('#passage').evaluate((node) => (node as HTMLDialogElement).open)).toBe(true);
          const passage = (await page.locator('#passage-text').textContent()) ?? '';
          expect(passage).toBe(citation?.passage);
          passagesShown.push(passage);
          titlesShown.push((await page.locator('#passage-document').textContent()) ?? '');
          await page.keyboard.press('Escape');
        }
      }

      // The markup arrived and is shown as literal text…
      const shown = passagesShown.join('\n');
      expect(shown).toContain('<script>window.__pwned = 1</script>');
      expect(shown).toContain('<img src=x onerror="window.__pwned = 2">');
      expect(shown).toContain('<a href="javascript:window.__pwned=3">ici</a>');
      expect(shown).toContain('[ici](javascript:window.__pwned=4)');
      expect(shown).toContain('<img src=x onerror="window.__pwned = 10">');
      // …including the escaped markup of the HTML file, whose real <script>, <img> and links the HTML reader drops.
      expect(shown).toContain('<img src=x onerror="window.__pwned = 11">');
      expect(shown).not.toContain('window.__pwned = 7');
      expect(titlesShown).toContain('Note <img src=x onerror="window.__pwned = 12"> sur la flotte de Wiesbaden');
      expect(titlesShown).toContain('Exercice naval <script>window.__pwned = 13</script> en Baltique');

      // …and none of it became an element, an attribute or ran.
      await delay(200); // time for an image error or a navigation to fire, had any been created
      const dom = await page.evaluate(() => ({
        injected: document.querySelectorAll(
          '#log img, #log script, #log a, #log iframe, #log svg, #log object, dialog img, dialog script, dialog a',
        ).length,
        scripts: Array.from(document.scripts, (script) => script.getAttribute('src')),
        images: document.images.length,
        javascriptLinks: document.querySelectorAll('a[href^="javascript:" i]').length,
        handlers: Array.from(document.querySelectorAll('*')).flatMap((node) =>
          Array.from(node.attributes, (attribute) => attribute.name).filter((name) => name.startsWith('on')),
        ),
        pwned: (window as { __pwned?: unknown }).__pwned,
        violations: (window as { __violations?: string[] }).__violations ?? [],
      }));
      expect(dom).toEqual({
        injected: 0,
        scripts: ['/chat.js'],
        images: 0,
        javascriptLinks: 0,
        handlers: [],
        pwned: undefined,
        violations: [],
      });
      expect(consoleViolations).toEqual([]);
      expect(pageErrors).toEqual([]);
      expect(page.url()).toBe(`${hostileServer.origin}/`);

      // Control: the sensors do see an inline handler blocked by this CSP.
      await page.evaluate(() => {
        document.createElement('div').innerHTML = '<img src="/missing.png" onerror="window.__pwned = 99">';
      });
      await expect
        .poll(() => page.evaluate(() => (window as { __violations?: string[] }).__violations?.length ?? 0))
        .toBeGreaterThan(0);
      await expect.poll(() => consoleViolations.length).toBeGreaterThan(0);
      expect(await page.evaluate(() => (window as { __pwned?: unknown }).__pwned)).toBeUndefined();

      await context.close();
    } finally {
      await hostileServer.close();
      await hostile.cleanup();
    }
  });

  it('never serves a file outside server/public, whatever the path', async () => {
    const control = await rawGet(server.origin, '/chat.js');
    expect(control.status).toBe(200);
    for (const rawPath of TRAVERSAL_PATHS) {
      const reply = await rawGet(server.origin, rawPath);
      expect([400, 404], rawPath).toContain(reply.status);
      expect(reply.type, rawPath).toMatch(/^application\/json/);
      const { error } = JSON.parse(reply.body) as ErrorBody;
      expect(typeof error.code, rawPath).toBe('string');
      for (const marker of OUTSIDE_FILE_MARKERS) expect(reply.body, rawPath).not.toContain(marker);
    }
  });
});
