/*
 * The embeddable widget in real headless Chromium, on pages of other origins (other ports) than the server's, with
 * the strict Content-Security-Policy a careful site would have: it adds only the server's origin to script-src,
 * style-src and connect-src. The server is the real app over an index of corpus/, with one embed that lists the
 * first host page's origin only.
 */
import express, { type Express } from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { createEngine, loadChatSetup } from '../core/engine.js';
import { parseConfig } from '../core/config.js';
import type { Answer } from '../core/types.js';
import { createApp } from '../server/app.js';
import { browserMissing, launchChromium } from './helpers/browser.js';
import { type OpenAiWireServer, startOpenAiWireServer } from './helpers/openai-wire-server.js';
import { type RunningServer, serve } from './helpers/serve-app.js';
import { buildEngine, createWorkspace, PROJECT_ROOT, type Workspace } from './helpers/test-index.js';

const question = "Qui est le secrétaire général de l'OTAN ?";

/** A request's or response's headers, read from the browser; a page closed first leaves no unhandled rejection. */
function allHeaders(message: { allHeaders(): Promise<Record<string, string>> }): Promise<Record<string, string>> {
  const headers = message.allHeaders();
  headers.catch(() => undefined);
  return headers;
}

/** Styles that would wreck a widget whose own styles the page could reach or whose sizes followed the page's. */
const HOSTILE_CSS = `
* { all: unset !important; }
html { font-size: 4px !important; line-height: 0.5 !important; }
body, body * { color: #ff0000 !important; font-family: serif !important; letter-spacing: 6px !important; }
cited-answers-widget { transform: scale(0.2); filter: blur(4px); }
button, textarea, mark, p, section, article { display: none !important; }
`;

/** A site that carries the widget with one tag, under a CSP that trusts the widget's server and nothing else. */
function hostSite(defaultApi: () => string, writingApi: () => string = defaultApi): Express {
  const app = express();
  app.get('/host.css', (_request, response) => {
    response.type('text/css').send(HOSTILE_CSS);
  });
  app.get('/', (request, response) => {
    const api = request.query['writing'] === '1' ? writingApi : defaultApi;
    const hostile = request.query['hostile'] === '1' ? '<link rel="stylesheet" href="/host.css">' : '';
    response.setHeader(
      'Content-Security-Policy',
      [
        "default-src 'self'",
        `script-src 'self' ${api()}`,
        `style-src 'self' ${api()}`,
        `connect-src 'self' ${api()}`,
        "object-src 'none'",
        "base-uri 'none'",
      ].join('; '),
    );
    response.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Product manual</title>${hostile}</head>
<body><h1>Product manual</h1><p>Read the manual, or ask.</p>
<script async src="${api()}/widget.js" data-embed-id="docs" data-lang="fr" data-title="Aide du manuel" data-position="bottom-left"></script>
</body></html>`);
  });
  return app;
}

describe.skipIf(browserMissing)('the widget on other sites, in Chromium', { timeout: 30_000 }, () => {
  let workspace: Workspace;
  let api: RunningServer;
  /** The same app with a language model that writes slowly, behind the same embed. */
  let writingApi: RunningServer;
  let upstream: OpenAiWireServer;
  let allowedSite: RunningServer;
  let otherSite: RunningServer;
  let browser: Browser;
  let expected: Answer;

  beforeAll(async () => {
    workspace = await createWorkspace();
    const engine = await buildEngine(workspace);
    allowedSite = await serve(
      hostSite(
        () => api.origin,
        () => writingApi.origin,
      ),
    );
    otherSite = await serve(hostSite(() => api.origin));
    api = await serve(
      createApp({
        engine: () => engine,
        http: {
          apiKeys: ['a-key-the-widget-never-has'],
          embeds: [
            {
              id: 'docs',
              origins: [allowedSite.origin],
              enabled: true,
              requestsPerMinute: 100,
              requestsPerMinutePerAddress: 100,
            },
          ],
        },
      }),
    );
    upstream = await startOpenAiWireServer({
      chat: (body) => {
        const prompt = JSON.stringify(body['messages']);
        const n = /\[(\d+)\] \([^)]*\)\\n[^[]*Mark Rutte/.exec(prompt)?.[1] ?? '1';
        const tokens = ['Le secrétaire ', 'général ', 'est ', 'Mark ', `Rutte [${n}].`];
        return { tokens, delayMs: 250 };
      },
    });
    const chat = parseConfig({ CHAT_MODEL: 'slow-model', OPENAI_BASE_URL: upstream.baseUrl }).chat;
    const writing = await createEngine(engine.index, await loadChatSetup(chat, path.join(PROJECT_ROOT, 'prompts')));
    writingApi = await serve(
      createApp({
        engine: () => writing,
        http: {
          embeds: [
            {
              id: 'docs',
              origins: [allowedSite.origin],
              enabled: true,
              requestsPerMinute: 9,
              requestsPerMinutePerAddress: 9,
            },
          ],
        },
      }),
    );
    const response = await fetch(`${api.origin}/api/answer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer a-key-the-widget-never-has' },
      body: JSON.stringify({ question }),
    });
    expected = (await response.json()) as Answer;
    expect(expected.found).toBe(true);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([api, writingApi, allowedSite, otherSite].map((running) => running?.close()));
    await upstream?.close();
    await workspace?.cleanup();
  });

  /** Opens a host page, recording CSP violations (from an init script, which the page's CSP does not govern). */
  async function open(url: string) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    context.setDefaultTimeout(10_000);
    // A cookie of the widget's server: the widget must never send it.
    await context.addCookies([{ name: 'session', value: 'secret', url: api.origin }]);
    const page = await context.newPage();
    const violations: string[] = [];
    const errors: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`Refused to load (CSP): ${event.effectiveDirective} ${event.blockedURI}`);
      });
    });
    // Each request and response is recorded as it is seen, so that none made before an assertion is missing from it;
    // its headers (all of them, cookies and Origin included, which request.headers() leaves out) are read meanwhile.
    const requests: Array<{ method: string; url: string; headers: Promise<Record<string, string>> }> = [];
    page.on('request', (request) => {
      requests.push({ method: request.method(), url: request.url(), headers: allHeaders(request) });
    });
    const responses: Array<{ url: string; status: number; headers: Promise<Record<string, string>> }> = [];
    page.on('response', (response) => {
      responses.push({ url: response.url(), status: response.status(), headers: allHeaders(response) });
    });
    await page.goto(url);
    return { page, violations, errors, requests, responses };
  }

  const widget = (page: Page, selector: string) => page.locator(`cited-answers-widget ${selector}`);

  /** Opens the panel and asks; resolves once the reply bubble is final. */
  async function ask(page: Page, text: string): Promise<void> {
    await widget(page, '.launcher').click();
    await widget(page, '.question').fill(text);
    await widget(page, '.question').press('Enter');
    await widget(page, '.message-answer, .message-refusal, .message-error').first().waitFor();
  }

  it('answers on a listed site under a strict CSP, and opens a citation with its quote highlighted', async () => {
    const { page, violations, errors, requests, responses } = await open(`${allowedSite.origin}/`);
    const launcher = widget(page, '.launcher');
    await launcher.waitFor();
    expect(await launcher.getAttribute('aria-label')).toBe('Poser une question');
    const box = await launcher.boundingBox();
    expect(box?.x).toBeLessThan(100); // data-position="bottom-left"
    expect(box?.y).toBeGreaterThan(650);

    await ask(page, question);
    // The modules shared with the chat page come from the widget's server, requested from the host page's origin with
    // CORS (as a module is) and allowed to any origin: without that header the browser would refuse them.
    for (const file of ['event-stream.js', 'answer-markers.js']) {
      const moduleRequest = requests.find((request) => request.url === `${api.origin}/${file}`);
      expect((await moduleRequest?.headers)?.['origin'], file).toBe(allowedSite.origin);
      const served = responses.find((response) => response.url === `${api.origin}/${file}`);
      expect(served?.status, file).toBe(200);
      const servedHeaders = await served?.headers;
      expect(servedHeaders?.['access-control-allow-origin'], file).toBe('*');
      expect(servedHeaders?.['cross-origin-resource-policy'], file).toBe('cross-origin');
    }
    expect(await widget(page, '.title').textContent()).toBe('Aide du manuel');
    expect(await widget(page, '.question').getAttribute('placeholder')).toBe('Posez une question…');
    const shown = await widget(page, '.message-answer .text').textContent();
    expect(shown).toBe(expected.answer.replace(/\[(\d+)\]/g, '$1'));

    const marker = widget(page, '.message-answer .marker').first();
    const n = Number(await marker.textContent());
    const citation = expected.citations.find((candidate) => candidate.n === n);
    await marker.click();
    await expect.poll(() => widget(page, '.passage').isVisible()).toBe(true);
    expect(await widget(page, '.passage-text mark').textContent()).toBe(citation?.quote);
    expect(await widget(page, '.passage-text').textContent()).toBe(citation?.passage);
    expect(await widget(page, '.passage-title').textContent()).toBe(citation?.title);

    // The whole document around the quote, from the server, the quote at its offsets.
    const source = (await (
      await fetch(`${api.origin}/api/sources/${citation?.source ?? ''}`, {
        headers: { authorization: 'Bearer a-key-the-widget-never-has' },
      })
    ).json()) as { text: string };
    await widget(page, '.document').click();
    await expect.poll(() => widget(page, '.passage-text').textContent()).toBe(source.text);
    expect(await widget(page, '.passage-text mark').textContent()).toBe(citation?.quote);
    expect(await widget(page, '.document').textContent()).toBe('Voir le passage seul');
    await widget(page, '.document').click();
    expect(await widget(page, '.passage-text').textContent()).toBe(citation?.passage);
    await page.keyboard.press('Escape');
    await expect.poll(() => widget(page, '.log').isVisible()).toBe(true);
    expect(await marker.evaluate((node) => node === (node.getRootNode() as ShadowRoot).activeElement)).toBe(true);

    const chat = requests.filter(
      (request) => request.method === 'POST' && request.url === `${api.origin}/api/embeds/docs/chat`,
    );
    expect(chat).toHaveLength(1);
    const chatHeaders = await chat[0]?.headers;
    expect(chatHeaders?.['origin']).toBe(allowedSite.origin);
    expect(chatHeaders?.['cookie']).toBeUndefined();
    expect(chatHeaders?.['authorization']).toBeUndefined();
    expect(violations).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('shows a written answer as it streams, then the verified answer with its markers', async () => {
    const { page, violations, errors } = await open(`${allowedSite.origin}/?writing=1`);
    await widget(page, '.launcher').click();
    await widget(page, '.question').fill(question);
    await widget(page, '.question').press('Enter');
    const draft = widget(page, '.message-streaming .text');
    await draft.waitFor();
    const partial = (await draft.textContent()) ?? '';
    expect(partial.length).toBeGreaterThan(0);
    // The draft is the model's text so far (its marker not yet renumbered, should the machine be slow to look).
    expect('Le secrétaire général est Mark Rutte'.startsWith(partial.replace(/(?:\s*\[\d+\]\.)?\s*$/, ''))).toBe(true);
    await widget(page, '.message-answer').waitFor();
    expect(await widget(page, '.message-answer .text').textContent()).toBe('Le secrétaire général est Mark Rutte. 1');
    await widget(page, '.message-answer .marker').click();
    expect(await widget(page, '.passage-text mark').textContent()).toContain('Mark Rutte');
    expect(violations).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('refuses a site that is not on the embed list, and says so', async () => {
    const { page, errors } = await open(`${otherSite.origin}/`);
    await widget(page, '.launcher').click();
    const refusal = widget(page, '.message-error .text');
    await refusal.waitFor();
    expect(await refusal.textContent()).toBe("Ce site n'est pas autorisé à utiliser cet assistant.");
    expect(await widget(page, '.question').isDisabled()).toBe(true);
    expect(await widget(page, '.message-answer').count()).toBe(0);

    // The server's refusal, as any client sees it: 403, and no CORS header for this origin.
    const direct = await fetch(`${api.origin}/api/embeds/docs/chat`, {
      method: 'POST',
      headers: { origin: otherSite.origin, 'content-type': 'application/json' },
      body: JSON.stringify({ question }),
    });
    expect(direct.status).toBe(403);
    expect(direct.headers.get('access-control-allow-origin')).toBeNull();
    expect(await direct.json()).toMatchObject({ error: { code: 'origin_not_allowed' } });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('keeps its looks and works on a page whose CSS is hostile to unscoped styles', async () => {
    const { page, violations, errors } = await open(`${allowedSite.origin}/?hostile=1`);
    const launcher = widget(page, '.launcher');
    await launcher.waitFor();
    const box = await launcher.boundingBox();
    expect(box?.width).toBeCloseTo(56, 0);
    expect(box?.height).toBeCloseTo(56, 0);
    expect(box?.x).toBeLessThan(100);

    await ask(page, question);
    const text = widget(page, '.message-answer .text');
    expect(await text.textContent()).toBe(expected.answer.replace(/\[(\d+)\]/g, '$1'));
    const looks = await text.evaluate((node) => {
      const style = getComputedStyle(node);
      return { fontSize: style.fontSize, color: style.color, letterSpacing: style.letterSpacing };
    });
    expect(looks).toEqual({ fontSize: '15px', color: 'rgb(31, 35, 40)', letterSpacing: 'normal' });
    const panel = await widget(page, '.panel').boundingBox();
    expect(panel?.width).toBeCloseTo(380, 0);
    expect(await widget(page, '.question').isVisible()).toBe(true);

    await widget(page, '.message-answer .marker').first().click();
    expect(await widget(page, '.passage-text mark').isVisible()).toBe(true);
    expect(violations).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
