import { z } from 'zod';

/** Version of the index layout on disk; bumped whenever a reader of the old layout would misread the new one. */
export const INDEX_FORMAT_VERSION = 5;

export const manifestSchema = z.object({
  formatVersion: z.number().int(),
  createdAt: z.string(),
  embedder: z.object({ id: z.string().min(1), dimensions: z.number().int().positive() }),
  /** Version of the document readers that made the citable texts: another version may cut them differently. */
  readerVersion: z.number().int().nonnegative(),
  chunker: z.object({
    targetChars: z.number().int().positive(),
    maxChars: z.number().int().positive(),
    overlapSentences: z.number().int().nonnegative(),
  }),
  sources: z.array(
    z.object({
      source: z.string().min(1),
      checksum: z.string().regex(/^[0-9a-f]{64}$/),
      title: z.string(),
      language: z.enum(['fr', 'en']),
      chars: z.number().int().nonnegative(),
      chunks: z.number().int().nonnegative(),
      /** Where the source's citable text is in the file of source texts. */
      text: z.object({ offset: z.number().int().nonnegative(), length: z.number().int().positive() }),
    }),
  ),
  /** Corpus files that could not be read, with their checksum and why: unchanged, they do not make the index stale. */
  skipped: z.array(
    z.object({ source: z.string().min(1), checksum: z.string().regex(/^[0-9a-f]{64}$/), reason: z.string() }),
  ),
  chunkCount: z.number().int().nonnegative(),
  /** SHA-256 of every other file of the index, by path relative to the index folder. */
  files: z.record(z.string().regex(/^[0-9a-f]{64}$/)),
});

export type Manifest = z.infer<typeof manifestSchema>;

const spanSchema = z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() });

const languageSchema = z.enum(['fr', 'en']);

const pageSchema = z.number().int().positive();

/** A stored passage, as the chunk store reads it back. */
export const chunkSchema = spanSchema.extend({
  id: z.string().min(1),
  source: z.string().min(1),
  title: z.string(),
  section: z.array(z.string()),
  language: languageSchema,
  text: z.string(),
  sentences: z.array(
    spanSchema.extend({
      kind: z.enum(['paragraph', 'list-item', 'table-row', 'code']),
      language: languageSchema,
      page: pageSchema.optional(),
    }),
  ),
  page: pageSchema.optional(),
});
