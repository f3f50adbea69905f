import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CaseFileError } from './cases.js';

/**
 * A case set and the corpus it asks about. `tuning` sets may be used to choose settings; `held-out` sets only report
 * how those settings do on documents they were not chosen on.
 */
export interface EvalSet {
  name: string;
  corpusDir: string;
  casesFile: string;
  role: 'tuning' | 'held-out';
}

const setsSchema = z
  .array(
    z
      .object({
        name: z.string().regex(/^[a-z0-9-]+$/, 'a set name is lowercase letters, digits and dashes'),
        corpus: z.string().min(1),
        cases: z.string().min(1),
        role: z.enum(['tuning', 'held-out']),
      })
      .strict(),
  )
  .min(1);

/** Reads the list of case sets (`eval/sets.json`); paths in it are relative to `rootDir`. */
export async function loadSets(file: string, rootDir: string): Promise<EvalSet[]> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new CaseFileError(`Cannot read the list of case sets ${file}.`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CaseFileError(`${file} is not valid JSON.`);
  }
  const parsed = setsSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'sets'} ${issue.message}`);
    throw new CaseFileError(`${file}: ${issues.join('; ')}.`);
  }
  return parsed.data.map((set) => ({
    name: set.name,
    corpusDir: path.resolve(rootDir, set.corpus),
    casesFile: path.resolve(rootDir, set.cases),
    role: set.role,
  }));
}
