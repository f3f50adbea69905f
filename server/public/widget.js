/*
 * Chat widget for the cited-answers assistant.
 *
 * Sends the question to POST /api/answer and renders the reply in the log.
 * Every `[n]` marker that has a matching citation becomes a button; it opens
 * the cited passage in a dialog, with the quoted sentence in a <mark>.
 *
 * Safety rule: text from the server (answers, passages, titles, error
 * messages) is only ever inserted with textContent / text nodes.
 */

const log = document.getElementById('log');
const form = document.getElementById('ask');
const questionInput = document.getElementById('question');
const sendButton = document.getElementById('send');
const dialog = document.getElementById('passage');
const dialogTitle = document.getElementById('passage-title');
const dialogDocument = document.getElementById('passage-document');
const dialogSource = document.getElementById('passage-source');
const dialogText = document.getElementById('passage-text');
const dialogClose = document.getElementById('passage-close');

const MARKER_PATTERN = /\[(\d+)\]/g;
const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

let pending = false;
let markerToRefocus = null;

/** Creates an element with a class name and optional text content. */
function element(tagName, className, text) {
  const node = document.createElement(tagName);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Appends a message bubble to the log and scrolls the log to it. */
function addMessage(kind, label, ...children) {
  const message = element('article', `message message-${kind}`);
  message.append(element('p', 'message-label', label), ...children);
  log.append(message);
  log.scrollTop = log.scrollHeight;
  return message;
}

/** Splits the answer on its [n] markers; known markers become buttons. */
function renderAnswerText(answer, citations) {
  const byNumber = new Map(citations.map((citation) => [citation.n, citation]));
  const paragraph = element('p', 'message-text');
  let position = 0;
  for (const match of answer.matchAll(MARKER_PATTERN)) {
    const citation = byNumber.get(Number(match[1]));
    if (!citation) continue;
    paragraph.append(document.createTextNode(answer.slice(position, match.index)));
    paragraph.append(markerButton(citation));
    position = match.index + match[0].length;
  }
  paragraph.append(document.createTextNode(answer.slice(position)));
  return paragraph;
}

/** A focusable button that opens the passage of one citation. */
function markerButton(citation) {
  const button = element('button', 'marker', String(citation.n));
  button.type = 'button';
  button.setAttribute('aria-label', `Source ${citation.n}`);
  button.setAttribute('aria-haspopup', 'dialog');
  button.title = citation.title || citation.source || '';
  button.addEventListener('click', () => openPassage(citation, button));
  return button;
}

/** Lists the distinct documents cited by an answer. */
function renderSources(citations) {
  const list = element('p', 'message-sources');
  const names = [...new Set(citations.map((citation) => citation.title || citation.source))];
  list.textContent = `Sources: ${names.join(' · ')}`;
  return list;
}

/** Shows a successful reply: a cited answer or a distinct "not found" one. */
function showAnswer(reply) {
  const citations = Array.isArray(reply.citations) ? reply.citations : [];
  const answer = typeof reply.answer === 'string' ? reply.answer : '';
  const found = reply.found === true;
  const text = found ? renderAnswerText(answer, citations) : element('p', 'message-text', answer);
  // `language` is the question's: it is the language of a refusal or a written answer, but an extractive answer
  // quotes the documents in theirs, so it is left untagged.
  const quoted = found && reply.mode === 'extractive';
  if (!quoted && typeof reply.language === 'string' && LANGUAGE_TAG.test(reply.language)) {
    text.lang = reply.language;
  }
  if (!found) {
    addMessage('refusal', 'No answer found', text);
  } else if (citations.length === 0) {
    addMessage('answer', 'Answer', text);
  } else {
    addMessage('answer', 'Answer', text, renderSources(citations));
  }
}

/** Shows an error as a readable sentence, never as raw JSON. */
function showError(text) {
  addMessage('error', 'Error', element('p', 'message-text', text));
}

/** Reads the `{error:{message}}` body of a failed response, if any. */
async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error.message === 'string' && body.error.message) {
      return body.error.message;
    }
  } catch {
    // Not JSON: fall through to the generic message.
  }
  return `The server could not answer (HTTP ${response.status}). Please try again.`;
}

/** Puts the page in, or out of, its waiting state. */
function setBusy(busy) {
  pending = busy;
  sendButton.disabled = busy;
  sendButton.textContent = busy ? 'Sending…' : 'Send';
  log.setAttribute('aria-busy', String(busy));
  form.classList.toggle('is-busy', busy);
}

/** Posts the question; resolves to `{ reply }` or to `{ error }` with a readable message. */
async function postQuestion(question) {
  let response;
  try {
    response = await fetch('/api/answer', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ question }),
    });
  } catch {
    return { error: 'The server could not be reached. Check your connection and try again.' };
  }
  if (!response.ok) return { error: await errorMessage(response) };
  const reply = await response.json().catch(() => null);
  if (reply === null || typeof reply !== 'object') {
    return { error: 'The server sent a reply this page cannot read. Please try again.' };
  }
  return { reply };
}

/** Asks the question and renders whatever comes back. */
async function ask(question) {
  setBusy(true);
  const waiting = addMessage('waiting', 'Searching the documents…');
  try {
    const { reply, error } = await postQuestion(question);
    waiting.remove();
    if (reply) showAnswer(reply);
    else showError(error);
  } finally {
    waiting.remove();
    setBusy(false);
  }
}

/** Handles Send: ignores empty questions and double submits. */
function onSubmit(event) {
  event.preventDefault();
  const question = questionInput.value.trim();
  if (pending || question === '') return;
  addMessage('question', 'You', element('p', 'message-text', question));
  questionInput.value = '';
  ask(question);
}

/** Enter sends; Shift+Enter (or an IME composition) keeps typing. */
function onQuestionKey(event) {
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
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
  dialogTitle.textContent = `Source ${citation.n}`;
  dialogDocument.textContent = citation.title || '';
  dialogSource.textContent = citation.source || '';
  dialog.lang = marker.closest('[lang]')?.lang || '';
  renderPassage(String(citation.passage ?? ''), String(citation.quote ?? ''));
  dialog.showModal();
  dialogClose.focus();
  dialogText.querySelector('mark')?.scrollIntoView({ block: 'center' });
}

/** Returns focus to the marker once the dialog closes (Escape or Close). */
function onDialogClosed() {
  if (markerToRefocus && markerToRefocus.isConnected) markerToRefocus.focus();
  markerToRefocus = null;
}

form.addEventListener('submit', onSubmit);
questionInput.addEventListener('keydown', onQuestionKey);
dialogClose.addEventListener('click', () => dialog.close());
dialog.addEventListener('close', onDialogClosed);
dialog.addEventListener('click', (event) => {
  if (event.target === dialog) dialog.close(); // click on the backdrop
});
questionInput.focus();
