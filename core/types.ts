/** Shared shapes of the pipeline: documents, chunks, retrieval hits and answers. */

export type Language = 'fr' | 'en';

/** A half-open range of UTF-16 code units in a document's text: `text.slice(start, end)`. */
export interface Span {
  start: number;
  end: number;
}

/**
 * What a block of a document is. Headings and questions (an FAQ entry's question, a heading or term ending in "?")
 * label the text under them: they are part of the section path, never an answer by themselves.
 */
export type BlockKind = 'heading' | 'question' | 'paragraph' | 'list-item' | 'table-row' | 'code';

/** A block of a document's citable text: a heading, a paragraph, a list item, a table row or a piece of code. */
export interface Block extends Span {
  kind: BlockKind;
  /** The labels (headings, questions, defined terms) the block is under, outermost first. */
  section: string[];
  /** The block's own language, which may differ from its document's (an untranslated paragraph). */
  language: Language;
  /** For a paged document (PDF): the page the block starts on, from 1. */
  page?: number;
}

/** A source document as the pipeline reads it. */
export interface SourceDocument {
  /** The corpus folder's name, then the path inside it, with forward slashes: `corpus-fr/sect.quotas.html`. */
  source: string;
  title: string;
  /** The text every offset refers to: the file itself, or for HTML the text extracted from it. */
  text: string;
  /** The language of most of the text. */
  language: Language;
  /** The blocks of `text` in order; text outside them (navigation, repeated page furniture) is not indexed. */
  blocks: Block[];
  /** SHA-256 of the file's bytes. */
  checksum: string;
  /** For a paged document (PDF): page `n` is the span `pages[n - 1]` of `text` (empty for a page without text). */
  pages?: Span[];
}

/** A run of a document's text under the same labels. */
export interface SectionSpan extends Span {
  section: string[];
}

/** The citable text of an indexed source, as served: what every citation's offsets refer to. */
export interface SourceText {
  source: string;
  title: string;
  language: Language;
  text: string;
  /** The indexed text, run by run of the same section path, in order. */
  sections: SectionSpan[];
  /** For a paged document (PDF): page `n` is the span `pages[n - 1]` of `text` (empty for a page without text). */
  pages?: Span[];
}

/** A sentence of a chunk, in document offsets; a table row or a piece of code counts as one. */
export interface Sentence extends Span {
  kind: Exclude<BlockKind, 'heading' | 'question'>;
  language: Language;
  /** For a paged document: the page the sentence starts on, from 1. */
  page?: number;
}

/** A passage of a document, the unit of retrieval and citation. */
export interface Chunk extends Span {
  /** Stable across runs while the source path and the chunk's text are unchanged. */
  id: string;
  source: string;
  title: string;
  /** The labels the chunk is under, outermost first; a chunk never straddles two sections. */
  section: string[];
  /** The language of most of its sentences. */
  language: Language;
  /** Always `document.text.slice(start, end)`. */
  text: string;
  /** The sentences of the chunk, in document offsets, trimmed of surrounding white space. */
  sentences: Sentence[];
  /**
   * For a paged document: the page the chunk starts on, from 1. A chunk may run on over a page break, as a paragraph
   * does; each sentence names its own page.
   */
  page?: number;
}

export interface RetrievedChunk {
  chunk: Chunk;
  /** Fused rank score: higher is better, comparable only within one query. */
  fusedScore: number;
  /** Cosine similarity of the query and passage vectors, when the vector index returned the passage. */
  vectorSimilarity: number | undefined;
  /** BM25 score, when the keyword index returned the passage. */
  keywordScore: number | undefined;
}

export interface Citation {
  n: number;
  chunkId: string;
  source: string;
  /** "Document title › section": where the quote is, as a reader would name it. */
  title: string;
  /** The labels the quote is under, outermost first; empty before a document's first heading. */
  section: string[];
  passage: string;
  quote: string;
  /** Offsets of `quote` in the source document's text. */
  start: number;
  end: number;
  /** For a paged document (PDF): the page the quote starts on, from 1. */
  page?: number;
  /** Share of the question's weighted terms that the quoted sentence covers, from 0 to 1. */
  score: number;
}

/**
 * `extractive`: sentences quoted from the documents. `generative`: written by a language model from the passages.
 * `extractive-fallback`: the model failed, so the answer is extractive.
 */
export type AnswerMode = 'extractive' | 'generative' | 'extractive-fallback';

/** A previous turn of the conversation. */
export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

export interface AnswerRequest {
  question: string;
  /** Passages to retrieve; DEFAULTS.retrieval.k when absent. */
  k?: number | undefined;
  /** Also return the retrieved passages, in rank order, as evaluation needs them. */
  includePassages?: boolean | undefined;
  /** Earlier turns, oldest first: a follow-up question is rewritten into a standalone one with them. */
  history?: ChatTurn[] | undefined;
}

/** A passage given to the model (or to the extractive answerer), numbered as the prompt numbers it. */
export interface CandidatePassage extends Span {
  n: number;
  chunkId: string;
  source: string;
  /** "Document title › section". */
  title: string;
  section: string[];
  passage: string;
  /** For a paged document (PDF): the page the passage starts on, from 1. */
  page?: number;
}

/** What an answerer reports while it works, in this order: candidates, tokens, then the verified answer. */
export type AnswerEvent =
  | { type: 'citations'; rewrittenQuestion: string; passages: CandidatePassage[] }
  | { type: 'token'; text: string }
  | { type: 'done'; answer: Answer };

export interface AnswerOptions {
  /** Aborts the work, including the request to the model, e.g. when the client goes away. */
  signal?: AbortSignal | undefined;
  onEvent?: ((event: AnswerEvent) => void) | undefined;
  /**
   * `token` events carry pieces of the final answer, which they add up to, rather than the model's raw text (whose
   * markers verification renumbers): for clients that cannot replace what they have shown. Only a model failing
   * after some text was released breaks this; `done` then carries the extractive answer that replaces it.
   */
  verifiedTokens?: boolean | undefined;
}

/** A retrieved passage as the API reports it on request. */
export interface RetrievedPassage extends Span {
  rank: number;
  chunkId: string;
  source: string;
  /** "Document title › section". */
  title: string;
  section: string[];
  text: string;
  /** For a paged document (PDF): the page the passage starts on, from 1. */
  page?: number;
  /** Reciprocal-rank fusion score. */
  score: number;
}

export interface Answer {
  answer: string;
  found: boolean;
  language: Language;
  mode: AnswerMode;
  citations: Citation[];
  timings: { retrieveMs: number; totalMs: number; firstTokenMs?: number };
  /** The question as searched, when a follow-up was rewritten with the conversation. */
  rewrittenQuestion?: string;
  /** Sentences of a generated answer that cite no passage. */
  unsupported?: string[];
  /** Tokens the model used. */
  usage?: { promptTokens: number; completionTokens: number };
  /** Why the answer is not what the mode promised, e.g. the model failed and the answer is extractive. */
  warning?: string;
  /** Present only when the request asked for it. */
  passages?: RetrievedPassage[];
}
