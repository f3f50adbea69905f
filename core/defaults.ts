/**
 * Every tuning number of the pipeline, in one place.
 * Configuration may override some of them; nothing else hard-codes a threshold.
 */
export const DEFAULTS = Object.freeze({
  chunking: Object.freeze({
    /** Chunks grow sentence by sentence up to about this many characters. */
    targetChars: 500,
    /** A single sentence longer than this is still kept whole, but never joined to another. */
    maxChars: 1000,
    /** Sentences repeated at the start of the next chunk of the same paragraph. */
    overlapSentences: 1,
  }),
  ingest: Object.freeze({
    /** How often progress is printed as a plain line when the output is not a terminal (CI, logs). */
    progressLineMs: 5_000,
    /**
     * A corpus of at least this many bytes is read and split by worker threads, one per core; a smaller one in the
     * ingest's own thread, since starting a thread takes a few tenths of a second.
     */
    threadsFromBytes: 4_000_000,
    /**
     * Files split ahead of the one being written wait with their passages; beyond this many bytes of them (text and
     * features) no more are started, however many files the threads could take.
     */
    heldBytes: 256_000_000,
  }),
  boilerplate: Object.freeze({
    /** A block with at least this share of its text in links is navigation (a table of contents, a menu). */
    maxLinkShare: 0.8,
    /** A block found on at least this many documents of a corpus… */
    repeatedMinDocuments: 3,
    /** …and on at least this share of them is page furniture, not content. */
    repeatedMinShare: 0.2,
  }),
  pdf: Object.freeze({
    /** Lines within this share of their font size of each other vertically are one line (superscripts included). */
    sameLineShare: 0.6,
    /** A vertical gap above this many times the body's line spacing ends a paragraph. */
    paragraphGap: 1.3,
    /** A line set at least this many times larger than the body text is a candidate heading. */
    headingSizeRatio: 1.15,
    /** Longest heading line, in characters: a longer line in a large font is a display paragraph. */
    maxHeadingChars: 200,
    /** Headings by font size are trusted only while the larger text holds less than this share of the characters. */
    maxHeadingShare: 0.25,
    /** The outline (bookmarks) names the headings when at least this share of its entries is found on its pages. */
    minOutlineMatchShare: 0.5,
    /** Lines counted at each edge of a page (top and bottom) when looking for running headers and footers. */
    edgeLines: 2,
    /** An edge line whose text (numbers aside) is on at least this share of the pages is a running header… */
    repeatedLineShare: 0.5,
    /** …and on at least this many pages. */
    repeatedLineMinPages: 3,
    /**
     * The first (last) line of a page sits in a band shared by at least this share of the pages, set off from the
     * text by more than `furnitureGap` line spacings on at least `isolatedShare` of them: a running header (footer).
     */
    furnitureBandShare: 0.5,
    furnitureGap: 1.5,
    isolatedShare: 0.8,
    /** A PDF with fewer letters than this in all its pages has no text layer worth indexing (a scan). */
    minLetters: 20,
  }),
  lexicalEmbeddings: Object.freeze({
    /**
     * Hashed feature space. Fewer dimensions would build the graph faster and take less memory, but collisions then
     * cost retrieval: at 256, hit@3 falls by 0.16 on nodejs-en and 0.13 on devref-fr.
     */
    dimensions: 1024,
    minNgram: 3,
    maxNgram: 5,
    /** Weight of a whole (stemmed) word feature relative to one character n-gram. */
    wordWeight: 2,
  }),
  retrieval: Object.freeze({
    /** Passages returned to the answerer when the request names no `k`. */
    k: 4,
    maxK: 20,
    /** Candidates taken from each of the vector and keyword indexes before fusion. */
    candidates: 20,
    /** Reciprocal-rank fusion constant (Cormack et al. use 60; small collections favour less smoothing). */
    rrfK: 20,
    /** Longest wait for an embedding server, per attempt. */
    embeddingTimeoutMs: 5_000,
  }),
  vectors: Object.freeze({
    /**
     * hnswlib graph degree and construction breadth, and search breadth. Construction cost grows with both of the
     * first two; a wider search recovers the recall: against exact search on 11k passages (scripts/vector-recall.ts),
     * M 12, efConstruction 40, ef 256 finds 0.92 of the true 20 nearest, where M 16, efConstruction 200, ef 64 found
     * 0.90, for a build about four times faster.
     */
    m: 12,
    efConstruction: 40,
    efSearch: 256,
    /** Vectors sent to a building thread at a time. */
    batch: 256,
    /** Batches a building thread may have waiting before the embedding pauses (bounded memory). */
    queuedBatches: 16,
    /**
     * A corpus gets one graph (shard) per this many passages, built in parallel, up to one per core and
     * `parallelShards`: each question searches every shard.
     */
    shardSize: 40_000,
    parallelShards: 4,
    /**
     * Memory the graphs being built may hold together. A corpus whose graphs would hold more is built in waves of
     * `parallelShards` shards, each wave written and freed before the next starts, so that an ingest's memory does not
     * grow with the corpus: at 1,024 dimensions on two cores, a wave holds two shards of up to 250k passages.
     */
    buildMemoryMb: 2048,
  }),
  keyword: Object.freeze({
    /** BM25+ parameters (MiniSearch's, which the keyword index reproduces). */
    bm25: Object.freeze({ k: 1.2, b: 0.7, d: 0.5 }),
    /** A question term of this many letters or more also matches terms within an edit for every 1/fuzzy letters. */
    fuzzyMinLength: 5,
    fuzzy: 0.2,
    maxFuzzy: 6,
    /** Weight of a fuzzy match, before the discount for its distance (« defenc » meets « defens »). */
    fuzzyWeight: 0.5,
  }),
  answering: Object.freeze({
    /** Below this weighted coverage of the question's terms by the best passage, the answer is a refusal. */
    minRelevance: 0.6,
    /**
     * The same bar for a question in another language than the passage: cognates match only in part
     * (Russia/Russie), and words that translate differently (north/nord) not at all.
     */
    minCrossLanguageRelevance: 0.3,
    /** Weight of the passage's coverage in a sentence's score, beside the sentence's own. */
    passageWeight: 0.4,
    /** At most this many sentences make an extractive answer. */
    maxSentences: 3,
    /** A further sentence must score at least this fraction of the best one. */
    secondarySentenceRatio: 0.6,
    /**
     * Weight of a question word found only in a passage's section path or document title, beside one found in the
     * passage itself.
     */
    contextWeight: 0.5,
    /**
     * A known question word at least this rare (its weight over the rarest word's) names what the question is about:
     * an answer, its section path or its title must hold it.
     */
    minFocusRarity: 0.8,
    /** Weight of a question word no passage uses, as a fraction of the weight of the rarest word the corpus uses. */
    unknownWordWeight: 1,
    /** An answer sentence must hold at least this many words the question does not. */
    minNovelWords: 1,
  }),
  generation: Object.freeze({
    /** OpenAI model used when a key is set and CHAT_MODEL is not. */
    openAiModel: 'gpt-4o-mini',
    /** Longest wait for a whole generated answer before falling back to the extractive one. */
    timeoutMs: 20_000,
    /**
     * Relevance a passage needs to be shown to the model: lower than the extractive bar, since the model reads
     * paraphrases that word overlap misses, and says when the passages do not answer.
     */
    minRelevance: 0.2,
    /** What the prompt asks the model to write when the passages do not answer. */
    notFoundSentinel: 'NOT_IN_DOCUMENTS',
  }),
  conversation: Object.freeze({
    maxTurns: 20,
    maxTurnChars: 4000,
    /** Turns of history given to the question rewriter. */
    rewriteTurns: 6,
  }),
  embeds: Object.freeze({
    /** Questions per minute an embed takes from all the visitors of its site together, unless it says otherwise. */
    requestsPerMinute: 120,
    /** Questions per minute one visitor's address may ask through an embed, unless it says otherwise. */
    requestsPerMinutePerAddress: 10,
  }),
  openAi: Object.freeze({
    /**
     * Body limit of `/v1/chat/completions`: clients send the whole conversation every time, so it is larger than
     * the answer API's; only the last turns are read.
     */
    maxBodyBytes: 1024 * 1024,
  }),
  database: Object.freeze({
    /** Connections each process keeps open at most: a question takes two or three at once. */
    poolMax: 10,
    /** Connections of a server's second pool: migrations at start-up, then the shared rate limit's counts. */
    rateLimitPoolMax: 4,
    connectTimeoutMs: 5_000,
    queryTimeoutMs: 15_000,
    /**
     * A replaced generation stays this long for the servers still reading it (a request may take up to
     * `requestTimeoutMs`, and a server notices a switch within `indexPollMs`), then an ingest or a server removes it.
     */
    generationGraceSeconds: 300,
    /**
     * How often a server serving from the database removes the generations past their grace period (replaced, or
     * abandoned by an ingest), so that none outlives it by much when no further ingest comes.
     */
    removeStaleEveryMs: 60_000,
    /** An ingest writes that it is alive this often… */
    heartbeatMs: 10_000,
    /** …and a generation being built whose ingest has not written for this long was abandoned (killed, crashed). */
    abandonedAfterMs: 10 * 60_000,
    /** Rows sent per INSERT while a generation is written. */
    insertBatch: 500,
    /** Passages, document frequencies and fuzzy expansions a server keeps per generation. */
    cachedRows: 5_000,
    /** Search breadth of the HNSW graph (pgvector's `hnsw.ef_search`), as the folder store's `vectors.efSearch`. */
    efSearch: 256,
    /**
     * pgvector's HNSW graph. With the folder store's M 12 and efConstruction 40, pgvector found 0.984 of the true
     * 10 nearest at ef 256 (61 questions over 3,985 generated passages and the communiqué, lexical vectors) and once
     * lost the one passage that answered; M 16 and efConstruction 128 found 1.000, and built no slower.
     */
    graph: Object.freeze({ m: 16, efConstruction: 128 }),
  }),
  /**
   * What a server keeps between questions, in entries. An evicted entry is garbage, and the heap grows with garbage
   * before a full collection. Measured on a server of 100k passages over 10,000 different questions, in one run: with
   * ten times the word caches' bounds, a cache of 5,000 sentences and V8's own heap growth, 606 → 780 MB; with these
   * and `heapGrowingPercent`, 585 → 652 MB, at the same latency. Passages are kept by the 2,000, so that a small
   * corpus stays whole in the caches; their sentences, which the answerer reads, are kept with them.
   */
  caches: Object.freeze({
    /** Folded forms of words, and of the document titles and section labels citations name (NFD and a regex each). */
    foldedWords: 20_000,
    /** Cross-language forms of words (their trigrams). */
    cognateForms: 10_000,
    /** Fuzzy expansions of question terms in the keyword index. */
    fuzzyExpansions: 2_000,
    /** Decoded passages read from the passages file. */
    chunks: 2_000,
    /** Analysed terms of passages, with those of their sentences. */
    passageTerms: 2_000,
  }),
  /**
   * Heap growth allowed after a full garbage collection, in percent of what survived it: V8's own factor (up to
   * 4× when collections are quick) lets a busy server's heap fill with garbage between collections.
   */
  heapGrowingPercent: 20,
  http: Object.freeze({
    maxQuestionChars: 2000,
    /** Room for a question and a full history (20 turns of 4000 characters). */
    maxBodyBytes: 128 * 1024,
    /** Interval of the keep-alive comments of an event stream. */
    heartbeatMs: 15_000,
    /** Per client: enough for a person chatting and for `npm run eval --url`, not for a flood. */
    rateLimitPerMinute: 300,
    /** Longest an API request may take before it is answered 503 `timeout`. */
    requestTimeoutMs: 30_000,
    /** Longest wait for requests in flight after SIGTERM before the server closes them. */
    shutdownTimeoutMs: 10_000,
    /** How often the server looks for a newly ingested index. */
    indexPollMs: 2_000,
  }),
});
