import { describe, expect, it } from 'vitest';
import { detectLanguage } from '../core/text/analyze.js';
import type { SourceDocument } from '../core/types.js';
import { toDocuments } from '../ingest/load-documents.js';
import { readHtml } from '../ingest/readers/read-html.js';
import { readMarkdown } from '../ingest/readers/read-markdown.js';
import { readPlainText } from '../ingest/readers/read-plain-text.js';
import type { Reading } from '../ingest/readers/reading.js';

/** The blocks of a reading as `kind: text [section › path]` lines, to compare whole structures at once. */
function outline(reading: {
  text: string;
  blocks: ReadonlyArray<Pick<Reading['blocks'][number], 'start' | 'end' | 'kind' | 'section'>>;
}): string[] {
  return reading.blocks.map(
    (block) => `${block.kind}: ${reading.text.slice(block.start, block.end)} [${block.section.join(' › ')}]`,
  );
}

function documentsOf(pages: Record<string, string>): SourceDocument[] {
  return toDocuments(
    Object.entries(pages).map(([source, html]) => ({ source, checksum: '0'.repeat(64), reading: readHtml(html) })),
  );
}

const page = (title: string, body: string) =>
  `<!DOCTYPE html><html><head><title>${title}</title><style>p{}</style><script>var x = 1;</script></head>` +
  `<body>${body}</body></html>`;

describe('reading HTML', () => {
  it('keeps headings, paragraphs, items, terms and code as blocks under their section path', () => {
    const reading = readHtml(
      page(
        'Guide',
        '<h1>Guide <a class="headerlink" href="#guide">¶</a></h1><p>Un   outil\n  de gestion.</p>' +
          '<h2>Installer</h2><p>Exécutez la commande :</p><pre>apt-get install outil\n  --yes</pre>' +
          '<ul><li>rapide</li><li>sûr <b>et</b> simple</li></ul>' +
          '<h2>Options</h2><dl><dt>--purge</dt><dd><p>Supprime aussi la configuration.</p></dd>' +
          '<dt>-s</dt><dd>Simule.</dd></dl><p>Après la liste.</p><h3>Détails</h3><p>Fin.</p>',
      ),
    );
    expect(outline(reading)).toEqual([
      'heading: Guide [Guide]',
      'paragraph: Un outil de gestion. [Guide]',
      'heading: Installer [Guide › Installer]',
      'paragraph: Exécutez la commande : [Guide › Installer]',
      'code: apt-get install outil\n  --yes [Guide › Installer]',
      'list-item: rapide [Guide › Installer]',
      'list-item: sûr et simple [Guide › Installer]',
      'heading: Options [Guide › Options]',
      'heading: --purge [Guide › Options › --purge]',
      'paragraph: Supprime aussi la configuration. [Guide › Options › --purge]',
      'heading: -s [Guide › Options › -s]',
      'paragraph: Simule. [Guide › Options › -s]',
      'paragraph: Après la liste. [Guide › Options]',
      'heading: Détails [Guide › Options › Détails]',
      'paragraph: Fin. [Guide › Options › Détails]',
    ]);
    expect(reading.title).toBe('Guide');
    expect(reading.text).not.toMatch(/var x|p\{\}|¶/);
  });

  it('drops note references and permalinks, which are links and not text', () => {
    const reading = readHtml(
      page(
        'Notes',
        '<h2>Paquets<a class="headerlink" href="#p">¶</a></h2>' +
          '<p>Ils seront supprimés<a href="#ftn.1" class="footnote"><sup>[10]</sup></a>. Voir ' +
          '<a class="footnote-reference" href="#id2">2</a> et <a href="page.html">la page 3</a>.</p>',
      ),
    );
    expect(outline(reading)).toEqual([
      'heading: Paquets [Paquets]',
      'paragraph: Ils seront supprimés. Voir et la page 3. [Paquets]',
    ]);
  });

  it('reads only the main content when the page marks it, and never navigation, forms or hidden text', () => {
    const reading = readHtml(
      page(
        'Manuel',
        '<header><p>Bannière du site</p></header><nav><a href="/">Accueil</a></nav>' +
          '<div role="navigation"><p>Menu</p></div><form><input value="q"><button>Chercher</button></form>' +
          '<div role="main"><article><header><h1>Article</h1></header><p>Le contenu.</p>' +
          '<p hidden>Caché</p><p style="display: none">Invisible</p></article></div>' +
          '<footer><p>Pied de page</p></footer>',
      ),
    );
    expect(outline(reading)).toEqual(['heading: Article [Article]', 'paragraph: Le contenu. [Article]']);
  });

  it('reads a data table row by row with its column headers, and a layout table as ordinary blocks', () => {
    const reading = readHtml(
      page(
        'États',
        '<table><thead><tr><th>Lettre</th><th>Signification</th></tr></thead>' +
          '<tbody><tr><td>i</td><td>le paquet est <em>installé</em></td></tr><tr><td>c</td><td>il reste sa configuration</td></tr></tbody></table>' +
          '<table><tr><td><p>3.1.</p></td><td><p>Comment trouver un paquet ?</p></td></tr>' +
          '<tr><td></td><td><p>Utilisez la recherche.</p><p>Tapez son nom.</p></td></tr></table>',
      ),
    );
    expect(outline(reading)).toEqual([
      'table-row: Lettre: i | Signification: le paquet est installé []',
      'table-row: Lettre: c | Signification: il reste sa configuration []',
      'question: 3.1. Comment trouver un paquet ? [3.1. Comment trouver un paquet ?]',
      'paragraph: Utilisez la recherche. [3.1. Comment trouver un paquet ?]',
      'paragraph: Tapez son nom. [3.1. Comment trouver un paquet ?]',
    ]);
  });

  it('makes an FAQ question line the label of the answer under it, until the next question or heading', () => {
    const reading = readHtml(
      page(
        'FAQ',
        '<h1>FAQ</h1><p>Comment installer ?</p><p>Avec apt.</p><p>Pourquoi ?</p><p>Parce que.</p>' +
          '<h2>Autre</h2><p>Texte.</p>',
      ),
    );
    expect(outline(reading)).toEqual([
      'heading: FAQ [FAQ]',
      'question: Comment installer ? [FAQ › Comment installer ?]',
      'paragraph: Avec apt. [FAQ › Comment installer ?]',
      'question: Pourquoi ? [FAQ › Pourquoi ?]',
      'paragraph: Parce que. [FAQ › Pourquoi ?]',
      'heading: Autre [FAQ › Autre]',
      'paragraph: Texte. [FAQ › Autre]',
    ]);
  });
});

describe('reading Markdown and plain text', () => {
  it('gives Markdown blocks as spans of the file, with ATX and setext headings, items, rows and code', () => {
    const markdown = [
      '# Path',
      '',
      '<!-- YAML added: v0.1 -->',
      '',
      'The `path` module works',
      'on file paths.',
      '',
      'Options',
      '-------',
      '',
      '* `sep`: the separator',
      '* `delimiter`: the list separator',
      '',
      '| Name | Value |',
      '| ---- | ----- |',
      '| sep  | `/`   |',
      '',
      '```js',
      "path.join('a', 'b');",
      '```',
      '',
      'Why use it?',
      '',
      'Because paths differ.',
    ].join('\n');
    const reading = readMarkdown(markdown);
    expect(outline(reading)).toEqual([
      'heading: Path [Path]',
      'paragraph: The `path` module works\non file paths. [Path]',
      'heading: Options [Path › Options]',
      'list-item: `sep`: the separator [Path › Options]',
      'list-item: `delimiter`: the list separator [Path › Options]',
      'table-row: | sep  | `/`   | [Path › Options › Name | Value]',
      "code: ```js\npath.join('a', 'b');\n``` [Path › Options]",
      'question: Why use it? [Path › Options › Why use it?]',
      'paragraph: Because paths differ. [Path › Options › Why use it?]',
    ]);
    expect(reading.text).toBe(markdown);
    expect(reading.title).toBe('Path');
  });

  it('finds numbered, underlined and capitalised headings in plain text, but keeps a headline a paragraph', () => {
    const text = [
      'Les ministres fixent le cap face à la Russie',
      'Le texte commence ici.',
      '',
      '9.2. Connexion à distance',
      '',
      'SSH chiffre la connexion.',
      '',
      '9.2.1. Clés',
      '',
      '- une clé publique',
      '- une clé privée',
      '',
      'Voir aussi',
      '==========',
      '',
      'NOTES',
      '',
      '    ssh-keygen -t ed25519',
    ].join('\n');
    expect(outline(readPlainText(text))).toEqual([
      'paragraph: Les ministres fixent le cap face à la Russie\nLe texte commence ici. []',
      'heading: 9.2. Connexion à distance [9.2. Connexion à distance]',
      'paragraph: SSH chiffre la connexion. [9.2. Connexion à distance]',
      'heading: 9.2.1. Clés [9.2. Connexion à distance › 9.2.1. Clés]',
      'list-item: - une clé publique [9.2. Connexion à distance › 9.2.1. Clés]',
      'list-item: - une clé privée [9.2. Connexion à distance › 9.2.1. Clés]',
      'heading: Voir aussi [Voir aussi]',
      'heading: NOTES [NOTES]',
      'code: ssh-keygen -t ed25519 [NOTES]',
    ]);
  });
});

describe('page furniture across a corpus', () => {
  const furniture =
    '<table><tr><td><a href="p.html">Précédent</a></td><td><a href="index.html">Sommaire</a></td>' +
    '<td><a href="n.html">Suivant</a></td></tr></table>';
  const pages = Object.fromEntries(
    ['un', 'deux', 'trois', 'quatre'].map((name) => [
      `manuel/${name}.html`,
      page(
        `Page ${name}`,
        `<table><tr><th colspan="3">Page ${name}</th></tr><tr><td><a href="x"><img alt="Préc."></a></td>` +
          `<th>Manuel</th><td></td></tr></table>` +
          `<h1>Page ${name}</h1><div class="toc"><dl><dt><a href="#a">Première partie</a></dt></dl></div>` +
          `<p>Le contenu propre à la page ${name} explique une chose.</p>` +
          `<p>Copyright 2024 le projet exemple, tous droits réservés.</p>${furniture}`,
      ),
    ]),
  );
  pages['manuel/index.html'] = page('Manuel', '<h1>Manuel</h1><p>Bienvenue dans le manuel.</p>');

  it('indexes what is proper to each page, not what repeats on many of them or only names other pages', () => {
    const documents = documentsOf(pages);
    const two = documents.find((document) => document.source === 'manuel/deux.html');
    expect(two === undefined ? [] : outline(two)).toEqual([
      'heading: Page deux [Page deux]',
      'paragraph: Le contenu propre à la page deux explique une chose. [Page deux]',
    ]);
    // The furniture is still in the citable text: offsets refer to the page as read.
    expect(two?.text).toContain('Précédent | Sommaire | Suivant');
  });

  it('decides the language of each block, so an untranslated paragraph is analysed as English', () => {
    const [document] = documentsOf({
      'manuel/traduit.html': page(
        'Traduit',
        '<p>Ce manuel est traduit en français et la plupart des paragraphes le sont.</p>' +
          '<p>This paragraph was not translated and is still in the English of the original.</p>' +
          '<p>Le reste du texte est en français, comme le début de la page.</p>',
      ),
    });
    expect(document?.language).toBe('fr');
    expect(document?.blocks.map((block) => block.language)).toEqual(['fr', 'en', 'fr']);
  });

  it('tells a document’s language from the clues of its first 20,000 characters of blocks, as read one after another', () => {
    // Each block's clues are counted once, for its own language and its document's: the document's must still be
    // that of its blocks joined by line breaks and cut at 20,000 characters, even inside a block.
    const filler = 'Wiesbaden Berlin 2024 Oslo Rome'; // no clue of either language
    const languageOf = (blocks: string[]) => {
      // A last block without clues takes its document's language, which it thus shows.
      const all = [...blocks, filler];
      const text = all.join('\n');
      let start = 0;
      const reading: Reading = {
        text,
        title: 'Essai',
        blocks: all.map((block) => {
          const span = { start, end: start + block.length };
          start = span.end + 1;
          return { ...span, kind: 'paragraph' as const, section: [], linkShare: 0 };
        }),
      };
      const [document] = toDocuments([{ source: 'essai.txt', checksum: '0'.repeat(64), reading }]);
      const expected = detectLanguage(text.slice(0, 20_000), 'en');
      expect(document?.blocks.at(-1)?.language).toBe(expected);
      return expected;
    };
    const upTo = (blocks: string[], length: number) => {
      const padded = [...blocks];
      while (padded.join('\n').length + filler.length + 1 <= length) padded.push(filler);
      return padded;
    };
    // French by 3 clues to 2 within the first 20,000 characters; English clues just past the cut, in the block it
    // cuts, in the next blocks, and in a block the cut would reach if the line breaks were not counted.
    const start = upTo(['le le le', 'the the'], 19_900);
    const cut = `${'x'.repeat(20_000 - start.join('\n').length - 1)} the the the`;
    expect(languageOf([...start, cut, 'the the the the'])).toBe('fr');
    // The same with French accents past the cut, and English before it.
    const english = upTo(['the the the', 'le le'], 19_900);
    const accents = `${'x'.repeat(20_000 - english.join('\n').length - 1)} été été été`;
    expect(languageOf([...english, accents, 'le le le le'])).toBe('en');
  });
});
