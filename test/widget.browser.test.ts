/*
 * Drives the chat page (server/public) in real headless Chromium.
 *
 * The real app runs in process on a random loopback port, over an index built
 * from a copy of corpus/. Answers, citations, refusals and the 503 error come
 * from the real /api/answer; only the HTML-injection, non-JSON error and busy
 * cases intercept the request in the browser.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../server/app.js';
import { buildEngine, createWorkspace, type Workspace } from './helpers/test-index.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const browserMissing = !existsSync(chromiumPath) && !process.env.CI;

const answerableQuestion = "Qui est le secrétaire général de l'OTAN ?";
const unanswerableQuestion = 'Quelle est la recette de la tarte tatin ?';

interface Citation {
  n: number;
  source: string;
  title: string;
  passage: string;
  quote: string;
}

interface AnswerBody {
  answer: string;
  found: boolean;
  citations: Citation[];
}

interface RunningServer {
  baseUrl: string;
  close: () => Promise<void>;
}

/** Serves an app on a random loopback port. */
async function serve(app: Express): Promise<RunningServer> {
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Asks the API directly, to know what the page should show. */
async function fetchAnswer(baseUrl: string, question: string): Promise<AnswerBody> {
  const response = await fetch(`${baseUrl}/api/answer`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ question }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as AnswerBody;
}

/** Types a question and sends it with Enter, then waits for the reply bubble. */
async function ask(page: Page, question: string): Promise<void> {
  await page.locator('#question').fill(question);
  await page.locator('#question').press('Enter');
  await page.locator('.message-answer, .message-refusal, .message-error').first().waitFor();
}

describe.skipIf(browserMissing)('chat widget in Chromium', { timeout: 30_000 }, () => {
  let workspace: Workspace;
  let server: RunningServer;
  let unloadedServer: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    workspace = await createWorkspace();
    const engine = await buildEngine(workspace);
    server = await serve(createApp({ engine: () => engine }));
    unloadedServer = await serve(createApp({ engine: () => undefined }));
    if (!existsSync(chromiumPath)) {
      throw new Error(`No Chromium at ${chromiumPath}: run \`apt-get install -y chromium\` or set CHROMIUM_PATH.`);
    }
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await unloadedServer?.close();
    await workspace?.cleanup();
  });

  /** Opens the chat page in a fresh browser context. */
  async function openPage(width = 1024, height = 768, baseUrl = server.baseUrl): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await page.goto(`${baseUrl}/`);
    return page;
  }

  it('answers with citation markers that open the quoted passage from the keyboard', async () => {
    const expected = await fetchAnswer(server.baseUrl, answerableQuestion);
    expect(expected.found).toBe(true);
    const page = await openPage();

    await ask(page, answerableQuestion);
    const shownAnswer = await page.locator('.message-answer .message-text').textContent();
    expect(shownAnswer).toBe(expected.answer.replace(/\[(\d+)\]/g, '$1'));
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

  it('closes the passage with its Close button and returns focus to the marker', async () => {
    const page = await openPage();
    await ask(page, answerableQuestion);
    const marker = page.locator('.message-answer .marker').first();

    await marker.focus();
    await page.keyboard.press('Space');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('passage-close');
    await page.keyboard.press('Enter');
    expect(await page.locator('#passage').evaluate((node) => (node as HTMLDialogElement).open)).toBe(false);
    expect(await marker.evaluate((node) => node === document.activeElement)).toBe(true);

    await page.context().close();
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
    const expected = await fetchAnswer(server.baseUrl, unanswerableQuestion);
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
    const response = await fetch(`${unloadedServer.baseUrl}/api/answer`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ question: answerableQuestion }),
    });
    expect(response.status).toBe(503);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('index_unavailable');
    const page = await openPage(1024, 768, unloadedServer.baseUrl);

    await ask(page, answerableQuestion);
    expect(await page.locator('.message-error .message-text').textContent()).toBe(error.message);
    expect(await page.locator('.message-error').textContent()).not.toContain('{');

    await page.context().close();
  });

  it('shows an error message containing HTML as text', async () => {
    const page = await openPage();
    const message = 'No index is loaded yet <b>try again</b>.';
    await page.route('**/api/answer', (route) =>
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
    await page.route('**/api/answer', (route) =>
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
    await page.route('**/api/answer', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          answer: 'Texte <img src=x onerror="window.hacked = 1"> [1] et [9].',
          found: true,
          language: 'fr',
          mode: 'extractive',
          citations: [
            {
              n: 1,
              chunkId: 'x',
              source: 'corpus/<b>x</b>.txt',
              title: '<i>t</i>',
              passage,
              quote,
              start: 0,
              end: 0,
              score: 1,
            },
          ],
          timings: { retrieveMs: 0, totalMs: 0 },
        }),
      }),
    );

    await ask(page, answerableQuestion);
    expect(await page.locator('.message-answer .marker').count()).toBe(1);
    expect(await page.locator('.message-answer .message-text').textContent()).toContain('[9]');
    await page.locator('.message-answer .marker').click();

    expect(await page.locator('#passage-text').textContent()).toBe(passage);
    expect(await page.locator('#passage-text mark').textContent()).toBe(quote);
    expect(await page.locator('#passage-source').textContent()).toBe('corpus/<b>x</b>.txt');
    expect(await page.locator('main img, dialog img, dialog script, dialog b, dialog i').count()).toBe(0);
    expect(await page.evaluate(() => (window as { hacked?: number }).hacked)).toBeUndefined();

    await page.context().close();
  });

  it('shows a busy state and ignores a second submit while waiting', async () => {
    const page = await openPage();
    let requests = 0;
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/api/answer', async (route) => {
      requests += 1;
      await released;
      await route.continue();
    });

    await page.locator('#question').fill(answerableQuestion);
    await page.locator('#question').press('Enter');
    await page.locator('.message-waiting').waitFor();
    expect(await page.locator('#send').isDisabled()).toBe(true);
    await page.locator('#question').fill(answerableQuestion);
    await page.locator('#question').press('Enter');
    expect(await page.locator('.message-question').count()).toBe(1);

    release();
    await page.locator('.message-answer').waitFor();
    expect(requests).toBe(1);
    expect(await page.locator('#send').isDisabled()).toBe(false);
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
    await page.route(`${server.baseUrl}/`, async (route) => {
      const response = await route.fetch();
      await route.fulfill({
        response,
        headers: { ...response.headers(), 'content-security-policy': "default-src 'self'" },
      });
    });
    await page.goto(`${server.baseUrl}/`);

    await ask(page, answerableQuestion);
    expect(await page.locator('.message-answer .marker').count()).toBeGreaterThan(0);
    expect(violations).toEqual([]);

    await context.close();
  });
});
