import type { Language, Span } from '../types.js';

/**
 * Paragraph and sentence boundaries as offsets into the original text, so that every piece can be cited exactly.
 * Sentences come from `Intl.Segmenter`, which knows French and English; abbreviations it mistakes for a
 * sentence end (« M. Rutte », « Dr. Smith », initials) are joined back.
 */

/** Titles and abbreviations that end with a period without ending the sentence. */
const ABBREVIATION_AT_END =
  /(?:^|[\s(«"“'’])(?:\p{Lu}|M|MM|Mme|Mmes|Mlle|Mgr|Me|Dr|Pr|Prof|St|Ste|Mr|Mrs|Ms|Jr|Sr|Gen|Gén|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Hon|cf|env|vol|art|al|av|apr|no|nos|n°|p|pp|fig|ex|vs|i\.e|e\.g|Inc|Ltd|Co|Corp|Jan|Feb|Fév|Aug|Sept|Oct|Nov|Dec|Déc)\.\s*$/u;

const MARKDOWN_BLOCK_START = /^\s*(?:#{1,6}\s|[-*+]\s|\d+[.)]\s|>|```|\|)/;

/**
 * Splits a text into paragraphs. A text with blank lines is split at them (and at lines that open a Markdown block);
 * a text without any has one paragraph per line, as plain-text exports often do.
 */
export function splitParagraphs(text: string): Span[] {
  const lines = lineSpans(text);
  const blankLines = /\S[^\S\n]*\r?\n(?:[^\S\n]*\r?\n)+\s*\S/.test(text);
  const paragraphs: Span[] = [];
  let current: Span | undefined;
  for (const line of lines) {
    const content = text.slice(line.start, line.end);
    if (content.trim() === '') {
      current = undefined;
      continue;
    }
    const startsBlock = !blankLines || MARKDOWN_BLOCK_START.test(content) || current === undefined;
    const previousIsHeading = current !== undefined && /^\s*#{1,6}\s/.test(text.slice(current.start, current.end));
    if (startsBlock || previousIsHeading) {
      current = { start: line.start, end: line.end };
      paragraphs.push(current);
    } else if (current !== undefined) {
      current.end = line.end;
    }
  }
  return paragraphs.map((paragraph) => trimSpan(text, paragraph)).filter((span) => span.end > span.start);
}

/** Splits one paragraph of `text` into trimmed sentence spans; line breaks inside a paragraph are soft. */
export function splitSentences(text: string, paragraph: Span, language: Language): Span[] {
  const segmenter = segmenterFor(language);
  const slice = text.slice(paragraph.start, paragraph.end).replace(/\r?\n/g, (match) => ' '.repeat(match.length));
  const sentences: Span[] = [];
  for (const segment of segmenter.segment(slice)) {
    const span = trimSpan(text, {
      start: paragraph.start + segment.index,
      end: paragraph.start + segment.index + segment.segment.length,
    });
    if (span.end <= span.start) continue;
    const previous = sentences.at(-1);
    // « le terme ?widen », "#!/usr/bin/make": a mark the next word follows without a space ends no sentence.
    const glued =
      previous !== undefined && previous.end === span.start && /[?!]$/.test(text.slice(previous.start, previous.end));
    if (previous !== undefined && (glued || ABBREVIATION_AT_END.test(text.slice(previous.start, previous.end)))) {
      previous.end = span.end;
    } else {
      sentences.push(span);
    }
  }
  return sentences;
}

/** All sentences of a text, paragraph by paragraph. */
export function splitTextIntoSentences(text: string, language: Language): Span[][] {
  return splitParagraphs(text).map((paragraph) => splitSentences(text, paragraph, language));
}

const segmenters = new Map<Language, Intl.Segmenter>();
function segmenterFor(language: Language): Intl.Segmenter {
  let segmenter = segmenters.get(language);
  if (segmenter === undefined) {
    segmenter = new Intl.Segmenter(language, { granularity: 'sentence' });
    segmenters.set(language, segmenter);
  }
  return segmenter;
}

function lineSpans(text: string): Span[] {
  const spans: Span[] = [];
  let start = 0;
  for (const match of text.matchAll(/\r?\n/g)) {
    spans.push({ start, end: match.index });
    start = match.index + match[0].length;
  }
  spans.push({ start, end: text.length });
  return spans;
}

/** Narrows a span to exclude leading and trailing white space. */
export function trimSpan(text: string, span: Span): Span {
  let { start, end } = span;
  while (start < end && /\s/u.test(text[start] ?? '')) start += 1;
  while (end > start && /\s/u.test(text[end - 1] ?? '')) end -= 1;
  return { start, end };
}
