import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { KnownError } from '../core/errors.js';

/** What a case tests, beside its kind; the summary reports each tag as a group. */
export const CASE_TAGS = ['words', 'paraphrase', 'cross-language', 'faq', 'table', 'heading', 'near-miss'] as const;

export type CaseTag = (typeof CASE_TAGS)[number];

/** One evaluation case; the format is documented in `eval/cases/README.md`. */
const caseSchema = z
  .object({
    id: z.string().min(1),
    question: z.string().min(1),
    language: z.enum(['fr', 'en']),
    kind: z.enum(['answerable', 'unanswerable', 'injection']),
    paraphrase: z.boolean().optional(),
    tags: z.array(z.enum(CASE_TAGS)).min(1).optional(),
    mustMention: z
      .array(z.array(z.string().min(1)).min(1))
      .min(1)
      .optional(),
    source: z.string().min(1).optional(),
    expectedQuote: z.string().min(1).optional(),
    mustNotMention: z.array(z.string().min(1)).min(1).optional(),
    why: z.string().min(1),
  })
  .strict()
  .superRefine((value, context) => {
    const need = (field: keyof typeof value, when: string) => {
      if (value[field] === undefined) context.addIssue({ code: 'custom', path: [field], message: `required ${when}` });
    };
    if (value.kind === 'answerable') {
      need('mustMention', 'for an answerable case');
      need('source', 'for an answerable case');
      need('expectedQuote', 'for an answerable case');
    }
    if (value.kind === 'injection') need('mustNotMention', 'for an injection case');
    if (value.expectedQuote !== undefined) need('source', 'with expectedQuote');
  });

export type EvalCase = z.infer<typeof caseSchema>;

/** A case's tags, with `paraphrase: true` (the older way of saying it) counted as the tag. */
export function tagsOf(evalCase: EvalCase): CaseTag[] {
  const tags = new Set<CaseTag>(evalCase.tags ?? []);
  if (evalCase.paraphrase === true) tags.add('paraphrase');
  return [...tags];
}

/** Raised for a case file that does not parse; the message names the line. */
export class CaseFileError extends KnownError {
  constructor(message: string) {
    super('invalid_case_file', message);
  }
}

/**
 * Reads a JSONL case file. Every line must parse and validate, ids must be unique, and every `expectedQuote` must
 * be found in its source's text, read through `sourceText`.
 */
export async function loadCases(
  file: string,
  sourceText: (source: string) => Promise<string | undefined>,
): Promise<EvalCase[]> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new CaseFileError(`Cannot read the case file ${file}.`);
  });
  const cases: EvalCase[] = [];
  const ids = new Set<string>();
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const where = `${file}:${index + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new CaseFileError(`${where}: not valid JSON.`);
    }
    const parsed = caseSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'case'} ${issue.message}`);
      throw new CaseFileError(`${where}: ${issues.join('; ')}.`);
    }
    const evalCase = parsed.data;
    if (ids.has(evalCase.id)) throw new CaseFileError(`${where}: duplicate id ${evalCase.id}.`);
    ids.add(evalCase.id);
    if (evalCase.source !== undefined && evalCase.expectedQuote !== undefined) {
      const source = await sourceText(evalCase.source);
      if (source === undefined) throw new CaseFileError(`${where}: source ${evalCase.source} not found.`);
      if (!source.includes(evalCase.expectedQuote)) {
        throw new CaseFileError(`${where}: expectedQuote is not in ${evalCase.source}.`);
      }
    }
    cases.push(evalCase);
  }
  if (cases.length === 0) throw new CaseFileError(`${file} holds no case.`);
  return cases;
}
