// The wire-format server lives with the scripts, which count an ingest's embedding requests with it too.
export * from '../../scripts/lib/openai-wire-server.js';
