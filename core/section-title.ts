import { foldWord } from './text/analyze.js';
import type { Chunk } from './types.js';

/** Labels of a section path shown after the document title; the outer ones are in `section` for whoever needs them. */
const SHOWN_LABELS = 2;

/**
 * How a citation names where its quote is: "document title › section". The innermost labels are shown, without a
 * label that only repeats the title (a page whose first heading is its title).
 */
export function sectionTitle(title: string, section: readonly string[]): string {
  if (section.length === 0) return title;
  const named = foldedLabel(title);
  const labels = section.filter((label) => {
    const folded = foldedLabel(label);
    return folded !== named && !named.startsWith(`${folded} `);
  });
  return [title, ...labels.slice(-SHOWN_LABELS)].join(' › ');
}

/** A title or label folded, as `foldText` would: remembered, since every citation of a document names it again. */
function foldedLabel(label: string): string {
  return foldWord(label.toLowerCase()).trim();
}

/** What a passage is under, as text: its document title and section path, one per line. */
export function contextText(chunk: Pick<Chunk, 'title' | 'section'>): string {
  return [chunk.title, ...chunk.section].join('\n');
}

/** Whether two section paths name the same section. */
export function sameSection(left: readonly string[], right: readonly string[]): boolean {
  return left === right || (left.length === right.length && left.every((label, index) => label === right[index]));
}
