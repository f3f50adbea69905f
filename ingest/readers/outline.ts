/**
 * The labels a block is under as a reader walks a document: headings by level, then an FAQ question, then a defined
 * term (an HTML `dt`). Each label holds until a label of its level or an outer one replaces it, or, for a term,
 * until its list ends.
 */
export class Outline {
  private labels: Array<{ text: string; level: number }> = [];
  private cached: string[] | undefined = [];

  /** The labels in force, outermost first. The same array is returned until the labels change. */
  path(): string[] {
    this.cached ??= this.labels.map((label) => label.text);
    return this.cached;
  }

  /** A heading of level 1–6: it replaces every label at its level or deeper. */
  heading(text: string, level: number): void {
    this.replace(level, text);
  }

  /** A question line: it labels the text under it until the next heading or question. */
  question(text: string): void {
    this.replace(QUESTION_LEVEL, text);
  }

  /** Where a list of defined terms starts; `term` and `restore` take it back to there. */
  mark(): number {
    return this.labels.length;
  }

  /** A defined term of the list started at `mark`: it labels its definition. */
  term(text: string, mark: number): void {
    this.restore(mark);
    this.labels.push({ text, level: TERM_LEVEL });
    this.cached = undefined;
  }

  /** Drops the labels opened since `mark`, at the end of a list of terms. */
  restore(mark: number): void {
    if (this.labels.length <= mark) return;
    this.labels.length = mark;
    this.cached = undefined;
  }

  private replace(level: number, text: string): void {
    while ((this.labels.at(-1)?.level ?? 0) >= level) this.labels.pop();
    this.labels.push({ text, level });
    this.cached = undefined;
  }
}

const QUESTION_LEVEL = 7;
const TERM_LEVEL = 8;

/** A label's text: one line, white space collapsed, a trailing colon dropped. */
export function labelText(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/\s*:$/, '');
}

/** Whether a line asks a question: it ends with a question mark (French puts a space before it). */
export function isQuestionLine(text: string): boolean {
  return /\?\s*["»”)]*$/u.test(text.trim());
}
