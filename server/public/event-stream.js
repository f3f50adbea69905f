/*
 * A reader of Server-Sent Events for fetch streams (EventSource cannot POST): the chat page and the widget both read
 * their answers with it. A module, so that the chat page imports it and the widget, a classic script on other sites,
 * loads it with a dynamic import from its own server.
 */

/** Parses one event block (the lines between blank lines) into `{ name, data }`, or null if it has no data. */
function parseEventBlock(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue; // comment or keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') name = value || 'message';
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? null : { name, data: data.join('\n') };
}

/**
 * Returns a function that takes the stream's decoded text as it arrives and returns the events completed so
 * far. An event split across chunks waits in the buffer for its blank line; "\r\n" and "\r" count as "\n".
 */
export function createEventStreamParser() {
  let buffer = '';
  return function parseChunk(text) {
    buffer += text;
    // A final "\r" may be the first half of a "\r\n" still to come.
    const heldBack = buffer.endsWith('\r') ? '\r' : '';
    let rest = buffer.slice(0, buffer.length - heldBack.length).replace(/\r\n?/g, '\n');
    const events = [];
    let boundary = rest.indexOf('\n\n');
    while (boundary !== -1) {
      const event = parseEventBlock(rest.slice(0, boundary));
      if (event) events.push(event);
      rest = rest.slice(boundary + 2);
      boundary = rest.indexOf('\n\n');
    }
    buffer = rest + heldBack;
    return events;
  };
}
