import { afterEach, describe, expect, it } from 'vitest';
import { CorpusError } from '../core/errors.js';
import { loadDocuments } from '../ingest/load-documents.js';
import { splitIntoChunks } from '../ingest/split-into-chunks.js';
import { DEFAULTS } from '../core/defaults.js';
import { createWorkspace, type Workspace } from './helpers/test-index.js';

let workspace: Workspace | undefined;
afterEach(() => workspace?.cleanup());

describe('loadDocuments', () => {
  it('reads text, Markdown and HTML in path order, with titles, languages and checksums', async () => {
    workspace = await createWorkspace({
      'corpus/b/report.md': '# Annual report\n\nThe board met in March. It approved the budget.',
      'corpus/a.html':
        '<html><head><title>Note &amp; avis</title><script>alert(1)</script></head>' +
        '<body><h1>Titre</h1><p>Le conseil s’est réuni. <a href="http://x">Voir ici</a>.</p>' +
        '<img src="x.png" alt="image"><p>Il a décidé.</p><table><tr><th>Pays</th></tr><tr><td>Norvège</td></tr></table>' +
        '</body></html>',
      'corpus/c.txt': 'Première ligne\nLe texte continue ici.',
      'corpus/.hidden.txt': 'not read',
      'corpus/image.png': 'not read',
    });
    const documents = await loadDocuments(workspace.config.corpusDir);
    expect(documents.map((document) => document.source)).toEqual([
      'corpus/a.html',
      'corpus/b/report.md',
      'corpus/c.txt',
    ]);
    const [html, markdown, text] = documents;
    expect(html?.title).toBe('Note & avis');
    expect(html?.text).toMatch(/Le conseil s’est réuni\. Voir ici\./);
    expect(html?.text).toMatch(/Pays\s+Norvège/);
    expect(html?.text).not.toMatch(/alert|<|http:\/\/x|x\.png/);
    expect(html?.language).toBe('fr');
    expect(markdown).toMatchObject({ title: 'Annual report', language: 'en' });
    expect(text).toMatchObject({ title: 'Première ligne', language: 'fr' });
    expect(text?.checksum).toMatch(/^[0-9a-f]{64}$/);
    for (const document of documents) {
      for (const chunk of splitIntoChunks(document, DEFAULTS.chunking)) {
        expect(document.text.slice(chunk.start, chunk.end)).toBe(chunk.text);
      }
    }
  });

  it('says which folder is missing or empty', async () => {
    workspace = await createWorkspace({ 'corpus/image.png': 'binary' });
    await expect(loadDocuments(workspace.config.corpusDir)).rejects.toThrow(
      /holds no \.txt, \.md, \.html, \.pdf or \.docx document/,
    );
    await expect(loadDocuments(`${workspace.root}/absent`)).rejects.toBeInstanceOf(CorpusError);
  });
});
