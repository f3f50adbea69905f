import path from 'node:path';
import type { Config } from '../core/config.js';
import { type ChatSetup, createEngine } from '../core/engine.js';
import type { ExtractiveOptions } from '../core/answer/extractive-answerer.js';
import { openIndexStore } from '../core/index/open-index-store.js';
import type { PassageIndex } from '../core/index/passage-index.js';
import type { SourceDocument } from '../core/types.js';
import { ingest, staleReason } from '../ingest/build-index.js';
import { loadDocuments } from '../ingest/load-documents.js';
import { type EvalCase, loadCases } from './cases.js';
import type { EvalSet } from './sets.js';
import { type EvalTarget, inProcessTarget } from './targets.js';

/** A case set ready to run: its documents as indexed, its cases checked against them. */
export interface PreparedSet {
  set: EvalSet;
  documents: SourceDocument[];
  /** Text of every source, by source name, as it was indexed: what citation offsets are checked against. */
  sourceTexts: Map<string, string>;
  cases: EvalCase[];
}

/** Reads a set's corpus and cases; every expected quote must be in the citable text of its source. */
export async function prepareSet(set: EvalSet): Promise<PreparedSet> {
  const documents = await loadDocuments(set.corpusDir);
  const sourceTexts = new Map(documents.map((document) => [document.source, document.text]));
  const cases = await loadCases(set.casesFile, (source) => Promise.resolve(sourceTexts.get(source)));
  return { set, documents, sourceTexts, cases };
}

/**
 * The configuration a set is indexed and answered with: its corpus, and an index of its own (a folder, or an index
 * named after the set in the database).
 */
export function setConfig(config: Readonly<Config>, set: EvalSet): Readonly<Config> {
  return Object.freeze({
    ...config,
    corpusDir: set.corpusDir,
    indexDir: path.join(config.rootDir, '.eval', 'indexes', set.name),
    indexName: `eval-${set.name}`,
  });
}

/** Builds the set's index when it is missing or stale, and loads it. */
export async function indexOf(config: Readonly<Config>, set: EvalSet): Promise<PassageIndex> {
  const configured = setConfig(config, set);
  const reason = await staleReason(configured);
  if (reason !== undefined) {
    console.error(`Building the index of ${set.name}: ${reason}.`);
    await ingest(configured);
  }
  return openIndexStore(configured).load();
}

/** The product answering in this process over a set's index, with the given answering settings. */
export async function inProcessSetTarget(
  index: PassageIndex,
  chat: ChatSetup | undefined,
  answering?: ExtractiveOptions,
): Promise<EvalTarget> {
  return inProcessTarget((await createEngine(index, chat, answering)).answerer);
}
