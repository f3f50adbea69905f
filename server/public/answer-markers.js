/*
 * Splits a verified answer on its `[n]` citation markers: the chat page and the widget both show answers with it. A
 * module, like event-stream.js, so that the chat page imports it and the widget, a classic script on other sites,
 * loads it with a dynamic import from its own server. Each page makes its own marker (its labels and what a click
 * opens differ); the text between markers only ever becomes text nodes, never HTML.
 */

const MARKER_PATTERN = /\[(\d+)\]/g;

/**
 * The answer as nodes to append: its text as text nodes, and each `[n]` that has a citation numbered n as the node
 * `makeMarker(citation)` returns. A marker with no such citation stays in the text as written.
 */
export function splitAnswerOnMarkers(answer, citations, makeMarker) {
  const byNumber = new Map(citations.map((citation) => [citation.n, citation]));
  const nodes = [];
  let position = 0;
  for (const match of answer.matchAll(MARKER_PATTERN)) {
    const citation = byNumber.get(Number(match[1]));
    if (!citation) continue;
    nodes.push(document.createTextNode(answer.slice(position, match.index)), makeMarker(citation));
    position = match.index + match[0].length;
  }
  nodes.push(document.createTextNode(answer.slice(position)));
  return nodes;
}
