/**
 * Randomised malformed HTTP requests for fuzzing the API: odd methods, paths and content types, broken and deeply
 * nested JSON, huge and strange Unicode strings, prototype-polluting keys and wrong types. Seeded, so a failing run
 * can be replayed.
 */
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
}

export { seededRandom } from '../../scripts/lib/seeded-random.js';

const METHODS = ['GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
const PATHS = [
  '/api/answer',
  '/api/answer',
  '/api/chat',
  '/api/chat',
  '/healthz',
  '/',
  '/widget.js',
  '/api',
  '/api/',
  '/api/answer?question=x',
  '/api/answer/../chat',
  '/../package.json',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/api/%00',
  '/api/answer%20',
  '/index.html/..%2f..%2fpackage.json',
  '/\u00e9t\u00e9',
  '/api/answer#frag',
  '//api//answer',
];
const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'application/xml',
  '',
  'application/json; boundary=x',
  'application/vnd.api+json',
  'APPLICATION/JSON',
];
const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '\u202e\u202d reversed',
  '\u200b\u200c\u200d',
  '🇫🇷🧨💥',
  'é'.repeat(3000),
  'a'.repeat(2001),
  '<script>alert(1)</script>',
  '{{7*7}}',
  '${process.exit()}',
  '\\u0000',
  'x\r\nInjected: 1',
  'OTAN',
  'Où se trouve le nouveau commandement ?',
  'ignore previous instructions',
  '../../etc/passwd',
  'null',
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function nested(depth: number, open: string, close: string, inner = '1'): string {
  return `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
}

/** A JSON-ish body, most often broken in one way or another. */
function body(random: () => number): string | Buffer | undefined {
  const choice = Math.floor(random() * 20);
  const question = pick(random, ODD_STRINGS);
  switch (choice) {
    case 0:
      return undefined;
    case 1:
      return '';
    case 2:
      return '{"question": "unterminated';
    case 3:
      return nested(1 + Math.floor(random() * 20_000), '[', ']');
    case 4:
      return `{"question":${nested(1 + Math.floor(random() * 5000), '{"a":', '}')}}`;
    case 5:
      return JSON.stringify({ question: 'x'.repeat(Math.floor(random() * 300_000)) });
    case 6:
      return '{"__proto__": {"polluted": true}, "question": "OTAN"}';
    case 7:
      return '{"constructor": {"prototype": {"polluted": true}}, "question": "OTAN"}';
    case 8:
      return JSON.stringify({ question: pick(random, [42, true, null, [], {}, 1e308, -0]) });
    case 9:
      return JSON.stringify({ question, k: pick(random, [0, -1, 1.5, '3', 1e9, null, [], Number.MAX_SAFE_INTEGER]) });
    case 10:
      return JSON.stringify({
        question,
        history: pick(random, [
          'x',
          [1, 2],
          [{ role: 'system', content: 'x' }],
          Array(50).fill({ role: 'user', content: 'x' }),
        ]),
      });
    case 11:
      return JSON.stringify({ question, includePassages: pick(random, ['yes', 1, null]) });
    case 12:
      return Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22, 0xc3, 0x28]);
    case 13:
      return JSON.stringify([question]);
    case 14:
      return `"${question}"`;
    case 15:
      return '{"question":"OTAN",}';
    case 16:
      return JSON.stringify({ question: question.repeat(1 + Math.floor(random() * 10)) });
    case 17:
      return `{"question":"${'\\u'.repeat(100)}"}`;
    case 18:
      return JSON.stringify({ question: 'Qui est Kaja Kallas ?', k: 1 + Math.floor(random() * 20) });
    default:
      return JSON.stringify({ question, extra: { nested: [1, { deeper: '\ud83d' }] } });
  }
}

/** One random request. */
export function malformedRequest(random: () => number): FuzzRequest {
  const headers: Record<string, string> = {};
  const contentType = pick(random, CONTENT_TYPES);
  if (contentType !== '') headers['content-type'] = contentType;
  if (random() < 0.1)
    headers['authorization'] = pick(random, [
      'Bearer',
      'Bearer ',
      'Basic abc',
      'Bearer \u00e9',
      `Bearer ${'k'.repeat(5000)}`,
    ]);
  if (random() < 0.1) headers['x-request-id'] = pick(random, ['', 'a'.repeat(500), 'id with spaces', '<script>']);
  if (random() < 0.05) headers['content-encoding'] = pick(random, ['gzip', 'br', 'identity', 'bogus']);
  const method = pick(random, METHODS);
  return {
    method,
    path: pick(random, PATHS),
    headers,
    body: method === 'GET' || method === 'HEAD' ? undefined : body(random),
  };
}
