/*
 * The cited-answers widget, for any site, with one tag:
 *
 *   <script async src="https://HOST/widget.js" data-embed-id="docs" data-lang="fr" data-title="Aide"
 *           data-position="bottom-right"></script>
 *
 * It renders a launcher and a chat panel inside a <cited-answers-widget> element with a shadow root, so the page's
 * styles do not reach it, and talks to the server its own `src` names: POST /api/embeds/{id}/chat answers as the
 * chat page's /api/chat does, with Server-Sent Events (`citations`, `token`…, then `done` or `error`). Every [n]
 * of a verified answer becomes a button that shows the cited passage with the quoted sentence highlighted.
 *
 * It holds to a strict Content-Security-Policy on the host page: no inline script or style, no eval, styles from
 * this server's widget.css, requests only to this server, and no cookies. The data-* attributes are cosmetic (the
 * language of the interface, a title, a corner): what the assistant answers from is configured on the server.
 *
 * Safety rule, as on the chat page: text from the server is only ever inserted with textContent or text nodes.
 * This is a classic script (a module has no document.currentScript); it loads the modules it shares with the chat
 * page, the event-stream reader (event-stream.js) and the splitting of an answer on its markers (answer-markers.js),
 * from its server with a dynamic import.
 */
(function () {
  'use strict';

  const TAG = 'cited-answers-widget';
  const script = document.currentScript || document.querySelector('script[data-embed-id][src*="/widget.js"]');
  if (!script || !script.src || customElements.get(TAG)) return;

  const apiOrigin = new URL(script.src, document.baseURI).origin;
  const embedId = script.dataset.embedId || '';
  if (!/^[\w-]{1,64}$/.test(embedId)) {
    console.warn('cited-answers widget: the script tag needs a data-embed-id attribute, as the server lists it.');
    return;
  }
  const pageLanguage = (document.documentElement.lang || '').toLowerCase();
  const language =
    script.dataset.lang === 'fr' || script.dataset.lang === 'en'
      ? script.dataset.lang
      : pageLanguage.startsWith('fr')
        ? 'fr'
        : 'en';
  const position = script.dataset.position === 'bottom-left' ? 'bottom-left' : 'bottom-right';

  const TEXT = {
    en: {
      title: 'Ask the documentation',
      open: 'Ask a question',
      close: 'Close',
      back: 'Back to the answer',
      wholeDocument: 'Show in the whole document',
      passageOnly: 'Show the passage only',
      loading: 'Loading the document…',
      page: (number) => `p. ${number}`,
      question: 'Your question',
      placeholder: 'Ask a question…',
      send: 'Send',
      hint: 'Every answer cites its passages: select a number to read one.',
      you: 'You',
      answer: 'Answer',
      noAnswer: 'No answer found',
      error: 'Error',
      searching: 'Searching the documents…',
      writing: 'Writing the answer…',
      source: 'Source',
      sources: (names) => `Sources: ${names}`,
      refused: 'This site is not allowed to use this assistant.',
      unreachable: 'The assistant cannot be reached. Please try again later.',
      interrupted: 'The connection closed before the answer was complete. Please try again.',
      unreadable: 'The assistant sent a reply this widget cannot read.',
      retry: (seconds) => `Try again in ${seconds} s.`,
    },
    fr: {
      title: 'Questions sur la documentation',
      open: 'Poser une question',
      close: 'Fermer',
      back: 'Retour à la réponse',
      wholeDocument: 'Voir dans le document entier',
      passageOnly: 'Voir le passage seul',
      loading: 'Chargement du document…',
      page: (number) => `p. ${number}`,
      question: 'Votre question',
      placeholder: 'Posez une question…',
      send: 'Envoyer',
      hint: 'Chaque réponse cite ses passages : choisissez un numéro pour en lire un.',
      you: 'Vous',
      answer: 'Réponse',
      noAnswer: 'Pas de réponse trouvée',
      error: 'Erreur',
      searching: 'Recherche dans les documents…',
      writing: 'Rédaction de la réponse…',
      source: 'Source',
      sources: (names) => `Sources : ${names}`,
      refused: "Ce site n'est pas autorisé à utiliser cet assistant.",
      unreachable: "L'assistant ne répond pas. Réessayez plus tard.",
      interrupted: 'La connexion a été coupée avant la fin de la réponse. Réessayez.',
      unreadable: 'L’assistant a envoyé une réponse illisible pour ce widget.',
      retry: (seconds) => `Réessayez dans ${seconds} s.`,
    },
  }[language];
  const title = (script.dataset.title || TEXT.title).slice(0, 80);

  const MARKER_WITH_SPACE = /\s?\[\d+\]/g;
  const HISTORY_TURNS = 10;
  const HISTORY_TURN_CHARS = 4000;

  /** An element with a class and optional text. */
  function element(tagName, className, text) {
    const node = document.createElement(tagName);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(className, text, label) {
    const node = element('button', className, text);
    node.type = 'button';
    if (label) node.setAttribute('aria-label', label);
    return node;
  }

  /**
   * The modules shared with the chat page, event-stream.js and answer-markers.js, loaded once from this widget's server
   * with a dynamic import (a classic script cannot have a static one). Resolves to their two functions,
   * `{ createEventStreamParser, splitAnswerOnMarkers }`.
   */
  let sharedModules;
  function loadSharedModules() {
    sharedModules =
      sharedModules ||
      Promise.all([import(`${apiOrigin}/event-stream.js`), import(`${apiOrigin}/answer-markers.js`)]).then(
        ([eventStream, answerMarkers]) => ({
          createEventStreamParser: eventStream.createEventStreamParser,
          splitAnswerOnMarkers: answerMarkers.splitAnswerOnMarkers,
        }),
      );
    sharedModules.catch(() => (sharedModules = undefined)); // tried again with the next question
    return sharedModules;
  }

  /** The `{ error: { message } }` of a body, or null. */
  function errorText(body) {
    const message = body && body.error && body.error.message;
    return typeof message === 'string' && message ? message : null;
  }

  class CitedAnswersWidget extends HTMLElement {
    constructor() {
      super();
      this.history = [];
      this.busy = false;
      /** Whether this site's access was checked (or is being checked). */
      this.accessChecked = false;
      this.markerToRefocus = null;
      /** The citation the passage view shows, or null. */
      this.citation = null;
      this.build(this.attachShadow({ mode: 'open' }));
    }

    build(shadow) {
      const styles = element('link');
      styles.rel = 'stylesheet';
      styles.href = `${apiOrigin}/widget.css`;
      this.root = element('div', `root position-${position}`);
      // Hidden until its styles load, so that it never shows unstyled.
      this.root.hidden = true;
      styles.addEventListener('load', () => (this.root.hidden = false));
      this.root.lang = language;

      this.launcher = button('launcher', '', TEXT.open);
      this.launcher.append(element('span', 'launcher-mark', '?'));
      this.launcher.setAttribute('aria-expanded', 'false');
      this.launcher.setAttribute('aria-controls', 'panel');

      this.panel = element('section', 'panel');
      this.panel.id = 'panel';
      this.panel.hidden = true;
      this.panel.setAttribute('role', 'dialog');
      this.panel.setAttribute('aria-labelledby', 'title');
      const head = element('header', 'head');
      const heading = element('h2', 'title', title);
      heading.id = 'title';
      this.closeButton = button('close', '×', TEXT.close);
      head.append(heading, this.closeButton);

      this.log = element('div', 'log');
      this.log.setAttribute('role', 'log');
      this.log.setAttribute('aria-live', 'polite');

      this.passage = element('div', 'passage');
      this.passage.hidden = true;
      this.passage.setAttribute('role', 'region');
      this.passageLabel = element('p', 'passage-label');
      this.passage.setAttribute('aria-label', TEXT.source);
      this.backButton = button('back', `← ${TEXT.back}`);
      this.passageTitle = element('p', 'passage-title');
      this.passageSource = element('p', 'passage-source');
      this.passageText = element('blockquote', 'passage-text');
      this.documentButton = button('document', TEXT.wholeDocument);
      this.documentButton.setAttribute('aria-pressed', 'false');
      const passageHead = element('div', 'passage-head');
      passageHead.append(this.passageLabel, this.backButton);
      this.passage.append(passageHead, this.passageTitle, this.passageSource, this.documentButton, this.passageText);

      this.form = element('form', 'ask');
      const label = element('label', 'visually-hidden', TEXT.question);
      label.htmlFor = 'question';
      this.input = element('textarea', 'question');
      this.input.id = 'question';
      this.input.rows = 2;
      this.input.maxLength = 2000;
      this.input.placeholder = TEXT.placeholder;
      this.sendButton = element('button', 'send', TEXT.send);
      this.sendButton.type = 'submit';
      this.form.append(label, this.input, this.sendButton);
      const hint = element('p', 'hint', TEXT.hint);

      this.panel.append(head, this.log, this.passage, this.form, hint);
      this.root.append(this.launcher, this.panel);
      shadow.append(styles, this.root);

      this.launcher.addEventListener('click', () => this.toggle());
      this.closeButton.addEventListener('click', () => this.toggle(false));
      this.backButton.addEventListener('click', () => this.closePassage());
      this.documentButton.addEventListener('click', () => this.toggleDocument());
      this.form.addEventListener('submit', (event) => this.onSubmit(event));
      this.input.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.form.requestSubmit();
        }
      });
      this.panel.addEventListener('keydown', (event) => {
        if (event.key !== 'Escape') return;
        event.preventDefault();
        if (!this.passage.hidden) this.closePassage();
        else this.toggle(false);
      });
    }

    toggle(open = this.panel.hidden) {
      this.panel.hidden = !open;
      this.launcher.setAttribute('aria-expanded', String(open));
      if (open) {
        this.input.focus();
        if (!this.accessChecked) this.checkAccess();
      } else {
        this.launcher.focus();
      }
    }

    /** Asks the server whether this page's site may use the embed, once, so that a refusal shows before a question. */
    async checkAccess() {
      this.accessChecked = true;
      const outcome = await this.request('GET', `/api/embeds/${embedId}`);
      if (outcome.ok) return;
      this.addMessage('error', TEXT.error, element('p', 'text', outcome.error));
      this.input.disabled = true;
      this.sendButton.disabled = true;
    }

    /**
     * A request to this widget's server: `{ ok, response }`, or `{ error, retryAfter }` with a readable message. A
     * browser that blocks the reply (CORS: this site is not on the embed's list) shows no status; whether the
     * server answers at all then tells a refusal from an outage.
     */
    async request(method, path, body, signal) {
      let response;
      try {
        response = await fetch(`${apiOrigin}${path}`, {
          method,
          credentials: 'omit',
          headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
      } catch {
        const reachable = await fetch(`${apiOrigin}/widget.css`, {
          mode: 'no-cors',
          credentials: 'omit',
          cache: 'no-store',
        })
          .then(() => true)
          .catch(() => false);
        return { error: reachable ? TEXT.refused : TEXT.unreachable };
      }
      if (response.ok) return { ok: true, response };
      const reply = await response.json().catch(() => null);
      const code = reply && reply.error && reply.error.code;
      const retryAfter = response.status === 429 ? Number(response.headers.get('Retry-After')) || undefined : undefined;
      const error = code === 'origin_not_allowed' ? TEXT.refused : errorText(reply) || TEXT.unreadable;
      return { error, retryAfter };
    }

    addMessage(kind, label, ...children) {
      const message = element('article', `message message-${kind}`);
      message.append(element('p', 'label', label), ...children.filter(Boolean));
      this.log.append(message);
      this.log.scrollTop = this.log.scrollHeight;
      return message;
    }

    setMessage(message, kind, label, ...children) {
      message.className = `message message-${kind}`;
      message.replaceChildren(element('p', 'label', label), ...children.filter(Boolean));
      this.log.scrollTop = this.log.scrollHeight;
    }

    async onSubmit(event) {
      event.preventDefault();
      const question = this.input.value.trim();
      if (this.busy || question === '' || this.input.disabled) return;
      this.input.value = '';
      this.addMessage('question', TEXT.you, element('p', 'text', question));
      const message = this.addMessage('waiting', TEXT.searching);
      this.setBusy(true);
      try {
        const outcome = await this.ask(question, message);
        if (outcome.reply) this.showReply(message, question, outcome.reply, outcome.splitAnswerOnMarkers);
        else {
          const retry = outcome.retryAfter ? element('p', 'note', TEXT.retry(outcome.retryAfter)) : null;
          this.setMessage(message, 'error', TEXT.error, element('p', 'text', outcome.error), retry);
        }
      } finally {
        this.setBusy(false);
      }
    }

    setBusy(busy) {
      this.busy = busy;
      this.sendButton.disabled = busy;
      this.log.setAttribute('aria-busy', String(busy));
    }

    /**
     * Sends the question and the last turns; reads the event stream to `{ reply, splitAnswerOnMarkers }` (the shared
     * module's function that the reply is shown with, loaded before the stream is read) or `{ error }`.
     */
    async ask(question, message) {
      const history = this.history.slice(-HISTORY_TURNS);
      const body = history.length > 0 ? { question, history } : { question };
      const outcome = await this.request('POST', `/api/embeds/${embedId}/chat`, body);
      if (!outcome.ok) return outcome;
      const reader = outcome.response.body.getReader();
      const decoder = new TextDecoder();
      let draft = null;
      try {
        const { createEventStreamParser, splitAnswerOnMarkers } = await loadSharedModules();
        const parse = createEventStreamParser();
        for (;;) {
          const { value, done } = await reader.read();
          for (const event of parse(done ? decoder.decode() : decoder.decode(value, { stream: true }))) {
            let payload;
            try {
              payload = JSON.parse(event.data);
            } catch {
              payload = null;
            }
            if (event.name === 'done' && payload && typeof payload.answer === 'string') {
              return { reply: payload, splitAnswerOnMarkers };
            }
            if (event.name === 'error') return { error: errorText(payload) || TEXT.unreadable };
            if (event.name === 'token' && payload && typeof payload.text === 'string') {
              if (draft === null) {
                draft = document.createTextNode('');
                const text = element('p', 'text');
                text.append(draft);
                this.setMessage(message, 'streaming', TEXT.writing, text);
              }
              draft.appendData(payload.text);
              this.log.scrollTop = this.log.scrollHeight;
            }
          }
          if (done) return { error: TEXT.interrupted };
        }
      } catch {
        return { error: TEXT.interrupted };
      }
    }

    /** The verified reply: the answer with its markers as buttons and the documents it cites, or the refusal. */
    showReply(message, question, reply, splitAnswerOnMarkers) {
      const citations = Array.isArray(reply.citations) ? reply.citations.filter((c) => c && typeof c === 'object') : [];
      const found = reply.found === true;
      const text = found
        ? this.answerText(reply.answer, citations, splitAnswerOnMarkers)
        : element('p', 'text', reply.answer);
      if (reply.mode !== 'extractive' && typeof reply.language === 'string') text.lang = reply.language;
      const names = [...new Set(citations.map((citation) => citation.title || citation.source))];
      const sources = found && names.length > 0 ? element('p', 'sources', TEXT.sources(names.join(' · '))) : null;
      const warning = typeof reply.warning === 'string' && reply.warning ? element('p', 'note', reply.warning) : null;
      this.setMessage(
        message,
        found ? 'answer' : 'refusal',
        found ? TEXT.answer : TEXT.noAnswer,
        text,
        sources,
        warning,
      );
      const answer = reply.answer.replace(MARKER_WITH_SPACE, '').slice(0, HISTORY_TURN_CHARS);
      this.history.push({ role: 'user', content: question }, { role: 'assistant', content: answer });
    }

    /** The answer's paragraph, split on its [n] markers by the shared module; known markers become buttons. */
    answerText(answer, citations, splitAnswerOnMarkers) {
      const paragraph = element('p', 'text');
      paragraph.append(...splitAnswerOnMarkers(answer, citations, (citation) => this.markerButton(citation)));
      return paragraph;
    }

    /** The button for one [n] of an answer: it shows that citation's passage in place of the conversation. */
    markerButton(citation) {
      const marker = button('marker', String(citation.n), `${TEXT.source} ${citation.n}`);
      marker.title = citation.title || citation.source || '';
      marker.addEventListener('click', () => this.openPassage(citation, marker));
      return marker;
    }

    /** Shows a citation's passage with the quoted sentence highlighted, in place of the conversation. */
    openPassage(citation, marker) {
      this.markerToRefocus = marker;
      this.citation = citation;
      this.passageLabel.textContent = `${TEXT.source} ${citation.n}`;
      this.passageTitle.textContent = citation.title || '';
      const page = Number.isInteger(citation.page) ? ` · ${TEXT.page(citation.page)}` : '';
      this.passageSource.textContent = `${citation.source || ''}${page}`;
      const passage = String(citation.passage || '');
      const quote = String(citation.quote || '');
      const at = quote ? passage.indexOf(quote) : -1;
      this.showText(passage, at, at < 0 ? at : at + quote.length);
      this.documentButton.textContent = TEXT.wholeDocument;
      this.documentButton.setAttribute('aria-pressed', 'false');
      this.documentButton.hidden = typeof citation.source !== 'string' || !Number.isInteger(citation.start);
      this.log.hidden = true;
      this.passage.hidden = false;
      this.backButton.focus();
    }

    /** Puts a text in the passage view with `[start, end)` in a <mark>, scrolled into view. */
    showText(text, start, end) {
      this.passageText.replaceChildren();
      if (start < 0 || end > text.length) this.passageText.textContent = text;
      else {
        this.passageText.append(
          document.createTextNode(text.slice(0, start)),
          element('mark', '', text.slice(start, end)),
          document.createTextNode(text.slice(end)),
        );
      }
      const mark = this.passageText.querySelector('mark');
      if (mark) mark.scrollIntoView({ block: 'nearest' });
    }

    /**
     * Switches between the passage and the whole source around it: the source's citable text from the server, the
     * quote at its offsets, so a reader sees where in the document it stands.
     */
    async toggleDocument() {
      const citation = this.citation;
      if (!citation) return;
      if (this.documentButton.getAttribute('aria-pressed') === 'true') {
        this.openPassage(citation, this.markerToRefocus);
        this.documentButton.focus();
        return;
      }
      this.documentButton.disabled = true;
      this.documentButton.textContent = TEXT.loading;
      const name = citation.source.split('/').map(encodeURIComponent).join('/');
      const outcome = await this.request('GET', `/api/embeds/${embedId}/sources/${name}`);
      const served = outcome.ok ? await outcome.response.json().catch(() => null) : null;
      this.documentButton.disabled = false;
      if (this.citation !== citation) return;
      if (
        !served ||
        typeof served.text !== 'string' ||
        served.text.slice(citation.start, citation.end) !== citation.quote
      ) {
        this.documentButton.textContent = TEXT.wholeDocument;
        this.passageSource.textContent = `${citation.source} — ${outcome.error || TEXT.unreadable}`;
        return;
      }
      this.documentButton.textContent = TEXT.passageOnly;
      this.documentButton.setAttribute('aria-pressed', 'true');
      this.showText(served.text, citation.start, citation.end);
    }

    closePassage() {
      this.citation = null;
      this.passage.hidden = true;
      this.log.hidden = false;
      if (this.markerToRefocus && this.markerToRefocus.isConnected) this.markerToRefocus.focus();
      this.markerToRefocus = null;
    }
  }

  customElements.define(TAG, CitedAnswersWidget);
  const mount = () => document.body.append(document.createElement(TAG));
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
