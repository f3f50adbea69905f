/*
 * Chat page of the cited-answers assistant.
 *
 * Sends each question, with the previous turns of the conversation, to POST /api/chat and reads the reply
 * as Server-Sent Events: `citations` (the passages searched), `token` pieces of the answer as it is written,
 * then `done` with the verified answer, or `error`. Tokens are shown as plain text in a draft bubble; the
 * verified answer then replaces the draft, and every `[n]` marker that has a matching citation becomes a
 * button that opens the cited passage in a dialog, with the quoted sentence in a <mark>. From there, the whole
 * document (GET /api/sources/{source}: the text every offset refers to) can be shown, the quote marked at its
 * offsets and scrolled into view.
 *
 * When the server answers 401 (it needs an API key), a small form asks for the key; the key is kept in
 * sessionStorage (this tab only, never localStorage or the URL), the question is sent again with
 * `Authorization: Bearer <key>`, and so is every later request. A 429 shows its message and `Retry-After`.
 *
 * Safety rule: text from the server (answers, tokens, passages, titles, error messages) is only ever
 * inserted with textContent / text nodes.
 */
import { splitAnswerOnMarkers } from './answer-markers.js';
import { createEventStreamParser } from './event-stream.js';

const log = document.getElementById('log');
const form = document.getElementById('ask');
const questionInput = document.getElementById('question');
const sendButton = document.getElementById('send');
const stopButton = document.getElementById('stop');
const newConversationButton = document.getElementById('new-conversation');
const dialog = document.getElementById('passage');
const dialogTitle = document.getElementById('passage-title');
const dialogDocument = document.getElementById('passage-document');
const dialogSource = document.getElementById('passage-source');
const dialogText = document.getElementById('passage-text');
const dialogClose = document.getElementById('passage-close');
const dialogWhole = document.getElementById('passage-whole');
const dialogStatus = document.getElementById('passage-status');
const keyForm = document.getElementById('key-form');
const keyMessage = document.getElementById('key-message');
const keyInput = document.getElementById('api-key');

/** A marker with the space before it, as removed from an answer kept as history. */
const MARKER_WITH_SPACE = /\s?\[\d+\]/g;
const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
/** The server reads at most 20 turns of 4000 characters; the page sends the last 10. */
const HISTORY_TURNS = 10;
const HISTORY_TURN_CHARS = 4000;
/** Within this many pixels of the bottom, the log follows a growing answer. */
const FOLLOW_SCROLL_PIXELS = 48;
/** The sessionStorage item that holds the API key for this tab. */
const KEY_STORAGE_ITEM = 'cited-answers.api-key';
/** What an HTTP header can carry and the server reads as one bearer key: printable ASCII, no spaces. */
const API_KEY_PATTERN = /^[\x21-\x7e]+$/;

const MESSAGES = Object.freeze({
  unreachable: 'The server could not be reached. Check your connection and try again.',
  unreadable: 'The server sent a reply this page cannot read. Please try again.',
  interrupted: 'The connection closed before the answer was complete. Please try again.',
  stopped: 'This partial reply was not checked against the documents.',
  documentLoading: 'Loading the document…',
  documentUnavailable: 'The document could not be loaded.',
  documentMoved: 'The document has changed since this answer: the quote is no longer at its place.',
  keyNeeded: 'This server needs an API key.',
  keyWaiting: 'Enter the API key below to send this question.',
  keyNotSent: 'Not sent: the server needs an API key.',
  keyEmpty: 'Enter the API key.',
  keyMalformed: 'An API key is a single word of letters, digits and symbols, without spaces.',
});

/** Previous turns, oldest first: `{ role: 'user' | 'assistant', content }`. */
let history = [];
/** The exchange being streamed, or null: `{ question, controller, message, draft, searchedFor }`. */
let current = null;
let markerToRefocus = null;
/** The question waiting for an API key, or null: `{ question, message }` (its bubble). */
let waitingForKey = null;
/** The API key sent as a bearer token, or null; mirrored in sessionStorage so that a reload keeps it. */
let apiKey = readStoredKey();

/** The key kept for this tab, or null (also when storage is unavailable). */
function readStoredKey() {
  try {
    const key = sessionStorage.getItem(KEY_STORAGE_ITEM);
    return key && API_KEY_PATTERN.test(key) ? key : null;
  } catch {
    return null;
  }
}

/** Sets (or, with null, forgets) the API key, in memory and in sessionStorage. */
function setApiKey(key) {
  apiKey = key;
  try {
    if (key === null) sessionStorage.removeItem(KEY_STORAGE_ITEM);
    else sessionStorage.setItem(KEY_STORAGE_ITEM, key);
  } catch {
    // Storage disabled: the key lives in memory until the page is closed.
  }
}

/** Creates an element with a class name and optional text content. */
function element(tagName, className, text) {
  const node = document.createElement(tagName);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Whether the log is scrolled to (or near) its end, so that it should follow new content. */
function logIsAtEnd() {
  return log.scrollHeight - log.scrollTop - log.clientHeight <= FOLLOW_SCROLL_PIXELS;
}

/** Appends a message bubble to the log and scrolls the log to it. */
function addMessage(kind, label, ...children) {
  const message = element('article', '');
  setMessage(message, kind, label, ...children);
  log.append(message);
  log.scrollTop = log.scrollHeight;
  return message;
}

/** Replaces a bubble's kind, label and content, keeping its place in the log. */
function setMessage(message, kind, label, ...children) {
  const follow = logIsAtEnd();
  message.className = `message message-${kind}`;
  message.replaceChildren(element('p', 'message-label', label), ...children.filter(Boolean));
  if (follow) log.scrollTop = log.scrollHeight;
}

/** The answer's paragraph, split on its [n] markers (answer-markers.js); known markers become buttons. */
function renderAnswerText(answer, citations) {
  const paragraph = element('p', 'message-text');
  paragraph.append(...splitAnswerOnMarkers(answer, citations, markerButton));
  return paragraph;
}

/** A focusable button that opens the passage of one citation. */
function markerButton(citation) {
  const button = element('button', 'marker', String(citation.n));
  button.type = 'button';
  button.setAttribute('aria-label', `Source ${citation.n}`);
  button.setAttribute('aria-haspopup', 'dialog');
  button.title = withPage(citation.title || citation.source || '', citation);
  button.addEventListener('click', () => openPassage(citation, button));
  return button;
}

/** « p. 12 » for a citation of a paged document (PDF), or '' when it names no page. */
function pageLabel(citation) {
  return Number.isInteger(citation.page) && citation.page > 0 ? `p. ${citation.page}` : '';
}

/** A citation's name followed by its page, when it has one: « Manuel › Priorités, p. 21 ». */
function withPage(name, citation) {
  const page = pageLabel(citation);
  return page === '' ? name : `${name}, ${page}`;
}

/** Lists the distinct places cited by an answer: documents, with the page for a PDF. */
function renderSources(citations) {
  const list = element('p', 'message-sources');
  const names = [...new Set(citations.map((citation) => withPage(citation.title || citation.source, citation)))];
  list.textContent = `Sources: ${names.join(' · ')}`;
  return list;
}

/** Lower-cases and collapses white space, so that only a real rewrite counts as a difference. */
function normalizeQuestion(text) {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** "Searched for: …" when the server searched for another question than the one typed, else null. */
function renderSearchedFor(rewrittenQuestion, question) {
  if (typeof rewrittenQuestion !== 'string' || rewrittenQuestion.trim() === '') return null;
  if (normalizeQuestion(rewrittenQuestion) === normalizeQuestion(question)) return null;
  return element('p', 'message-searched', `Searched for: ${rewrittenQuestion}`);
}

/** A small note under a reply, such as the server's warning. */
function renderNote(text) {
  return element('p', 'message-note', text);
}

/** Shows the verified reply in the exchange's bubble: a cited answer or a distinct "not found" one. */
function showReply(exchange, reply) {
  const citations = Array.isArray(reply.citations)
    ? reply.citations.filter((citation) => citation !== null && typeof citation === 'object')
    : [];
  const answer = typeof reply.answer === 'string' ? reply.answer : '';
  const found = reply.found === true;
  const text = found ? renderAnswerText(answer, citations) : element('p', 'message-text', answer);
  // `language` is the question's: it is the language of a refusal or a written answer, but an extractive answer
  // quotes the documents in theirs, so it is left untagged.
  const quoted = found && reply.mode === 'extractive';
  if (!quoted && typeof reply.language === 'string' && LANGUAGE_TAG.test(reply.language)) {
    text.lang = reply.language;
  }
  const searchedFor = renderSearchedFor(reply.rewrittenQuestion ?? exchange.searchedFor, exchange.question);
  const sources = found && citations.length > 0 ? renderSources(citations) : null;
  const warning = typeof reply.warning === 'string' && reply.warning ? renderNote(reply.warning) : null;
  if (found) setMessage(exchange.message, 'answer', 'Answer', searchedFor, text, sources, warning);
  else setMessage(exchange.message, 'refusal', 'No answer found', searchedFor, text, warning);
}

/** Shows an error as a readable sentence, never as raw JSON; a draft, being unchecked, is dropped. */
function showError(exchange, text, retryAfterSeconds) {
  const retry =
    retryAfterSeconds === undefined ? null : element('p', 'message-retry', `Try again in ${retryAfterSeconds} s.`);
  setMessage(exchange.message, 'error', 'Error', element('p', 'message-text', text), retry);
}

/** Keeps the partial text of a stopped reply, marked as stopped. */
function showStopped(exchange) {
  const searchedFor = renderSearchedFor(exchange.searchedFor, exchange.question);
  const draft = exchange.draft ? element('p', 'message-text', exchange.draft.data) : null;
  setMessage(exchange.message, 'stopped', 'Stopped', searchedFor, draft, renderNote(MESSAGES.stopped));
}

/** Notes the question the server searched for, once it has chosen the passages. */
function onCitations(exchange, payload) {
  if (typeof payload.rewrittenQuestion === 'string') exchange.searchedFor = payload.rewrittenQuestion;
  const searchedFor = renderSearchedFor(exchange.searchedFor, exchange.question);
  if (exchange.draft === null) setMessage(exchange.message, 'waiting', 'Writing the answer…', searchedFor);
}

/** Appends a piece of the answer, as plain text, to the exchange's draft bubble. */
function onToken(exchange, payload) {
  if (typeof payload.text !== 'string' || payload.text === '') return;
  if (exchange.draft === null) {
    exchange.draft = document.createTextNode('');
    const paragraph = element('p', 'message-text');
    paragraph.append(exchange.draft);
    const searchedFor = renderSearchedFor(exchange.searchedFor, exchange.question);
    setMessage(exchange.message, 'streaming', 'Answering…', searchedFor, paragraph);
  }
  const follow = logIsAtEnd();
  exchange.draft.appendData(payload.text);
  if (follow) log.scrollTop = log.scrollHeight;
}

/** The readable message of an `{ error: { message } }` body, or null. */
function errorText(body) {
  const message = body && body.error && body.error.message;
  return typeof message === 'string' && message ? message : null;
}

/** The seconds a `Retry-After` header asks to wait (given in seconds or as a date), or undefined. */
function retryAfterSeconds(response) {
  const value = (response.headers.get('Retry-After') || '').trim();
  if (/^\d+$/.test(value)) return Number(value);
  const date = value === '' ? Number.NaN : Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * Reads a reply that is not an event stream: an `{ error }` body, or (if any) a plain answer. A 401 becomes
 * `{ keyNeeded }`, a 429 carries `retryAfter`.
 */
async function readJsonReply(response) {
  const body = await response.json().catch(() => null);
  if (response.status === 401) {
    return { keyNeeded: { message: errorText(body) ?? MESSAGES.keyNeeded } };
  }
  if (!response.ok) {
    const error = errorText(body) ?? `The server could not answer (HTTP ${response.status}). Please try again.`;
    return response.status === 429 ? { error, retryAfter: retryAfterSeconds(response) } : { error };
  }
  if (body && typeof body === 'object' && typeof body.answer === 'string') return { reply: body };
  return { error: errorText(body) ?? MESSAGES.unreadable };
}

/** Applies one event to the exchange; returns `{ reply }` or `{ error }` when the event ends the reply. */
function handleEvent(exchange, event) {
  let payload;
  try {
    payload = JSON.parse(event.data);
  } catch {
    return event.name === 'done' || event.name === 'error' ? { error: MESSAGES.unreadable } : null;
  }
  if (payload === null || typeof payload !== 'object') return null;
  switch (event.name) {
    case 'citations':
      onCitations(exchange, payload);
      return null;
    case 'token':
      onToken(exchange, payload);
      return null;
    case 'done':
      return { reply: payload };
    case 'error':
      return { error: errorText(payload) ?? MESSAGES.unreadable };
    default:
      return null; // an event this page does not know yet
  }
}

/** Reads the event stream to its `done` or `error` event; rejects if the exchange is stopped. */
async function readEventStream(response, exchange) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parseChunk = createEventStreamParser();
  for (;;) {
    const { value, done } = await reader.read();
    const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
    for (const event of parseChunk(text)) {
      const outcome = handleEvent(exchange, event);
      if (outcome) {
        reader.cancel().catch(() => undefined);
        return outcome;
      }
    }
    if (done) return { error: MESSAGES.interrupted };
  }
}

/** The previous turns to send: the last ten, each cut to the length the server accepts. */
function historyToSend() {
  return history.slice(-HISTORY_TURNS).map(({ role, content }) => {
    let cut = content.slice(0, HISTORY_TURN_CHARS);
    if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1); // do not split a surrogate pair
    return { role, content: cut };
  });
}

/** Remembers a completed exchange; the answer's [n] markers refer to this turn's passages, so they are dropped. */
function remember(question, reply) {
  const answer = typeof reply.answer === 'string' ? reply.answer.replace(MARKER_WITH_SPACE, '') : '';
  history.push({ role: 'user', content: question }, { role: 'assistant', content: answer });
}

/** Posts the question and history; resolves to `{ reply }` or `{ error }`, rejects if the exchange is stopped. */
async function requestReply(exchange) {
  const previousTurns = historyToSend();
  const body =
    previousTurns.length > 0
      ? { question: exchange.question, history: previousTurns }
      : { question: exchange.question };
  const headers = { 'Content-Type': 'application/json', Accept: 'text/event-stream, application/json' };
  if (apiKey !== null) headers.Authorization = `Bearer ${apiKey}`;
  let response;
  try {
    response = await fetch('/api/chat', {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: exchange.controller.signal,
    });
  } catch (error) {
    if (exchange.controller.signal.aborted) throw error;
    return { error: MESSAGES.unreachable };
  }
  const type = response.headers.get('Content-Type') || '';
  if (!response.ok || !type.startsWith('text/event-stream') || !response.body) return readJsonReply(response);
  try {
    return await readEventStream(response, exchange);
  } catch (error) {
    if (exchange.controller.signal.aborted) throw error;
    return { error: MESSAGES.interrupted };
  }
}

/** Puts the page in, or out of, its streaming state: Stop takes the place of Send. */
function setBusy(busy) {
  const sendHadFocus = document.activeElement === sendButton;
  const stopHadFocus = document.activeElement === stopButton;
  sendButton.disabled = busy;
  sendButton.hidden = busy;
  stopButton.disabled = !busy;
  stopButton.hidden = !busy;
  log.setAttribute('aria-busy', String(busy));
  form.classList.toggle('is-busy', busy);
  if (busy && sendHadFocus) stopButton.focus();
  if (!busy && stopHadFocus) questionInput.focus();
}

/**
 * Asks the question, streams the reply into a bubble and, once verified, adds the exchange to the history. A
 * question sent again once a key is given reuses its bubble.
 */
async function ask(question, bubble) {
  const message = bubble ?? addMessage('waiting', 'Searching the documents…');
  if (bubble) setMessage(message, 'waiting', 'Searching the documents…');
  if (waitingForKey !== null && waitingForKey.message !== message) {
    setMessage(waitingForKey.message, 'error', 'Error', element('p', 'message-text', MESSAGES.keyNotSent));
    waitingForKey = null;
  }
  const exchange = { question, controller: new AbortController(), message, draft: null, searchedFor: null };
  const sentKey = apiKey;
  current = exchange;
  setBusy(true);
  let keyNeeded = null;
  try {
    const outcome = await requestReply(exchange);
    if (outcome.reply) {
      showReply(exchange, outcome.reply);
      if (current === exchange) remember(question, outcome.reply);
    } else if (outcome.keyNeeded) {
      keyNeeded = outcome.keyNeeded;
      setMessage(message, 'key', 'API key needed', element('p', 'message-text', MESSAGES.keyWaiting));
    } else {
      showError(exchange, outcome.error, outcome.retryAfter);
    }
  } catch {
    if (exchange.controller.signal.aborted) showStopped(exchange);
    else showError(exchange, MESSAGES.unreadable);
  } finally {
    if (current === exchange) {
      current = null;
      setBusy(false);
    }
  }
  // Asked for a key: the key sent (if any) was refused, so forget it, and ask for one. A question dropped
  // meanwhile (New conversation) is not sent again.
  if (keyNeeded !== null && message.isConnected) {
    if (apiKey === sentKey) setApiKey(null);
    waitingForKey = { question, message };
    showKeyForm(keyNeeded.message);
  }
}

/** Shows the API key form with the server's message and puts the focus in it. */
function showKeyForm(text) {
  keyMessage.textContent = text;
  keyInput.value = '';
  keyInput.removeAttribute('aria-invalid');
  keyForm.hidden = false;
  keyInput.focus();
}

/** Keeps a valid-looking key, hides the form and sends the question that was waiting for it. */
function onKeySubmit(event) {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (!API_KEY_PATTERN.test(key)) {
    keyMessage.textContent = key === '' ? MESSAGES.keyEmpty : MESSAGES.keyMalformed;
    keyInput.setAttribute('aria-invalid', 'true');
    keyInput.focus();
    return;
  }
  setApiKey(key);
  keyInput.value = '';
  keyForm.hidden = true;
  questionInput.focus();
  const waiting = waitingForKey;
  waitingForKey = null;
  if (waiting !== null && current === null && waiting.message.isConnected) ask(waiting.question, waiting.message);
}

/** Stops the reply being streamed; its partial text stays and it is not added to the history. */
function stopReply() {
  current?.controller.abort();
}

/** Clears the log and the history, stopping any reply in progress. */
function startNewConversation() {
  const streaming = current;
  current = null;
  streaming?.controller.abort();
  history = [];
  waitingForKey = null;
  log.replaceChildren();
  setBusy(false);
  questionInput.focus();
}

/** Handles Send: ignores empty questions and submits while a reply is streaming. */
function onSubmit(event) {
  event.preventDefault();
  const question = questionInput.value.trim();
  if (current !== null || question === '') return;
  keyForm.hidden = true;
  addMessage('question', 'You', element('p', 'message-text', question));
  questionInput.value = '';
  ask(question);
}

/** Enter sends; Shift+Enter (or an IME composition) keeps typing; Escape stops a streaming reply. */
function onQuestionKey(event) {
  if (event.isComposing) return;
  if (event.key === 'Escape' && current !== null) {
    event.preventDefault();
    stopReply();
    return;
  }
  if (event.key !== 'Enter' || event.shiftKey) return;
  event.preventDefault();
  form.requestSubmit();
}

/** Fills the passage with text nodes, the quote wrapped in <mark>. */
function renderPassage(passage, quote) {
  dialogText.replaceChildren();
  const start = quote ? passage.indexOf(quote) : -1;
  if (start < 0) {
    dialogText.textContent = passage;
    return;
  }
  dialogText.append(
    document.createTextNode(passage.slice(0, start)),
    element('mark', '', quote),
    document.createTextNode(passage.slice(start + quote.length)),
  );
}

/** Opens the dialog for a citation and remembers which marker opened it. */
function openPassage(citation, marker) {
  markerToRefocus = marker;
  openCitation = citation;
  dialogTitle.textContent = `Source ${citation.n}`;
  dialogDocument.textContent = citation.title || '';
  dialogSource.textContent = withPage(citation.source || '', citation);
  dialog.lang = marker.closest('[lang]')?.lang || '';
  showPassageOnly();
  dialog.showModal();
  dialogClose.focus();
  dialogText.querySelector('mark')?.scrollIntoView({ block: 'center' });
}

/** The citation whose passage the dialog shows. */
let openCitation = null;

function showPassageOnly() {
  dialogText.classList.remove('passage-whole');
  renderPassage(String(openCitation?.passage ?? ''), String(openCitation?.quote ?? ''));
  dialogWhole.textContent = 'Show in the whole document';
  dialogWhole.setAttribute('aria-pressed', 'false');
  dialogStatus.textContent = '';
}

/**
 * Shows the whole document the quote was taken from, the quote marked at its offsets and scrolled into view. The
 * source is fetched by its indexed name; a quote no longer at its offsets (the document changed since) is said.
 */
async function showWholeDocument() {
  const citation = openCitation;
  if (!citation) return;
  dialogStatus.textContent = MESSAGES.documentLoading;
  const headers = { Accept: 'application/json' };
  if (apiKey !== null) headers.Authorization = `Bearer ${apiKey}`;
  let served;
  try {
    const response = await fetch(`/api/sources/${encodeURIComponent(String(citation.source))}`, { headers });
    if (!response.ok) {
      dialogStatus.textContent =
        errorText(await response.json().catch(() => undefined)) || MESSAGES.documentUnavailable;
      return;
    }
    served = await response.json();
  } catch {
    dialogStatus.textContent = MESSAGES.documentUnavailable;
    return;
  }
  if (openCitation !== citation || typeof served?.text !== 'string') return;
  const { text } = served;
  const { start, end, quote } = citation;
  dialogText.replaceChildren();
  dialogText.classList.add('passage-whole');
  if (text.slice(start, end) !== quote) {
    dialogText.textContent = text;
    dialogStatus.textContent = MESSAGES.documentMoved;
  } else {
    dialogText.append(
      document.createTextNode(text.slice(0, start)),
      element('mark', '', quote),
      document.createTextNode(text.slice(end)),
    );
    dialogStatus.textContent = '';
  }
  dialogWhole.textContent = 'Show the passage only';
  dialogWhole.setAttribute('aria-pressed', 'true');
  dialogText.querySelector('mark')?.scrollIntoView({ block: 'center' });
}

function toggleWholeDocument() {
  if (dialogText.classList.contains('passage-whole')) {
    showPassageOnly();
    dialogText.querySelector('mark')?.scrollIntoView({ block: 'center' });
  } else {
    void showWholeDocument();
  }
}

/** Returns focus to the marker once the dialog closes (Escape or Close). */
function onDialogClosed() {
  if (markerToRefocus && markerToRefocus.isConnected) markerToRefocus.focus();
  markerToRefocus = null;
  openCitation = null;
}

form.addEventListener('submit', onSubmit);
keyForm.addEventListener('submit', onKeySubmit);
questionInput.addEventListener('keydown', onQuestionKey);
stopButton.addEventListener('click', stopReply);
newConversationButton.addEventListener('click', startNewConversation);
dialogClose.addEventListener('click', () => dialog.close());
dialogWhole.addEventListener('click', toggleWholeDocument);
dialog.addEventListener('close', onDialogClosed);
dialog.addEventListener('click', (event) => {
  if (event.target === dialog) dialog.close(); // click on the backdrop
});
questionInput.focus();
