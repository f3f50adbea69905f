import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { citationProblems } from '../core/answer/citation-contract.js';
import type { Engine } from '../core/engine.js';
import type { Answer } from '../core/types.js';
import { loadDocuments } from '../ingest/load-documents.js';
import { buildEngine, createWorkspace, type Workspace } from './helpers/test-index.js';

/** A small manual as a documentation generator writes one: every page framed by the same navigation. */
const frame = (title: string, body: string) =>
  `<html><head><title>${title}</title></head><body>` +
  `<table><tr><th colspan="3">${title}</th></tr><tr><td><a href="p.html">Précédent</a></td><th>Manuel</th>` +
  `<td><a href="n.html">Suivant</a></td></tr></table>${body}` +
  '<table><tr><td><a href="p.html">Précédent</a></td><td><a href="index.html">Sommaire</a></td>' +
  '<td><a href="n.html">Suivant</a></td></tr></table><p>Copyright 2024 le projet Paqueteur.</p></body></html>';

const MANUAL: Record<string, string> = {
  'manuel/index.html': frame(
    'Manuel de paqueteur',
    '<h1>Manuel de paqueteur</h1><dl><dt><a href="installer.html">Installer paqueteur</a></dt>' +
      '<dt><a href="options.html">Options de la ligne de commande</a></dt></dl>' +
      '<p>Ce manuel décrit paqueteur, un gestionnaire de paquets en mode texte.</p>',
  ),
  'manuel/installer.html': frame(
    'Installer paqueteur',
    '<h1>Installer paqueteur</h1><p>Pour installer paqueteur, exécutez la commande apt-get install paqueteur ' +
      'en tant que superutilisateur.</p><pre>apt-get install paqueteur</pre>' +
      '<p>Le programme se lance ensuite depuis un terminal.</p>',
  ),
  'manuel/options.html': frame(
    'Options de la ligne de commande',
    '<h1>Options de la ligne de commande</h1><dl>' +
      '<dt>--purge</dt><dd><p>Supprime le paquet ainsi que tous ses fichiers de configuration.</p></dd>' +
      '<dt>--simulate</dt><dd><p>Affiche les actions prévues sans rien modifier sur le système.</p></dd></dl>',
  ),
  'manuel/faq.html': frame(
    'Questions fréquentes',
    '<h1>Questions fréquentes</h1><p>Comment trouver les paquets cassés ?</p>' +
      '<p>Utilisez la commande Rechercher, puis choisissez les paquets aux dépendances manquantes.</p>' +
      '<p>Pourquoi la souris est-elle capturée ?</p>' +
      '<p>Le terminal transmet les clics au programme ; gardez la touche Maj enfoncée pour sélectionner du texte.</p>',
  ),
  'manuel/securite.html': frame(
    'Sécurité',
    '<h1>Sécurité</h1><h2>Répertoire setgid et sticky bit</h2>' +
      '<p>Sur un répertoire partagé, le sticky bit empêche un utilisateur de supprimer les fichiers des autres.</p>',
  ),
  'manuel/etats.html': frame(
    'États des paquets',
    '<h1>États des paquets</h1><table><tr><th>Lettre</th><th>Signification</th></tr>' +
      '<tr><td>i</td><td>le paquet est installé avec toutes ses dépendances</td></tr>' +
      '<tr><td>c</td><td>le paquet a été supprimé mais sa configuration reste</td></tr></table>',
  ),
};

let workspace: Workspace;
let engine: Engine;
let texts: Map<string, string>;
beforeAll(async () => {
  workspace = await createWorkspace(MANUAL, { CORPUS_DIR: 'manuel' });
  engine = await buildEngine(workspace);
  const documents = await loadDocuments(workspace.config.corpusDir);
  texts = new Map(documents.map((document) => [document.source, document.text]));
});
afterAll(() => workspace.cleanup());

async function ask(question: string): Promise<Answer> {
  const answer = await engine.answerer.answer({ question, includePassages: true });
  expect(citationProblems(answer, (source) => texts.get(source))).toEqual([]);
  // The text the index serves for each source is the text the offsets refer to, and its section spans agree.
  for (const citation of answer.citations) {
    const served = await engine.index.sourceText(citation.source);
    expect(served?.text.slice(citation.start, citation.end)).toBe(citation.quote);
    const span = served?.sections.find((section) => section.start <= citation.start && citation.end <= section.end);
    expect(span?.section).toEqual(citation.section);
  }
  return answer;
}

describe('answers from structured documents', () => {
  it('answers an FAQ question from the text under it, never with the question line', async () => {
    const answer = await ask('Quelle commande trouve les paquets cassés ?');
    expect(answer.found).toBe(true);
    expect(answer.citations[0]?.quote).toBe(
      'Utilisez la commande Rechercher, puis choisissez les paquets aux dépendances manquantes.',
    );
    expect(answer.citations[0]?.section).toEqual(['Questions fréquentes', 'Comment trouver les paquets cassés ?']);
    expect(answer.citations[0]?.title).toBe('Questions fréquentes › Comment trouver les paquets cassés ?');
    expect(answer.answer).not.toContain('Comment trouver les paquets cassés ?');
  });

  it('answers from the text under a heading whose words the question uses, not with the heading', async () => {
    const answer = await ask('À quoi sert le sticky bit sur un répertoire ?');
    expect(answer.found).toBe(true);
    expect(answer.citations.map((citation) => citation.quote)).toEqual([
      'Sur un répertoire partagé, le sticky bit empêche un utilisateur de supprimer les fichiers des autres.',
    ]);
    expect(answer.citations[0]?.title).toBe('Sécurité › Répertoire setgid et sticky bit');
  });

  it('answers about an option from its definition, where the option is only in the section path', async () => {
    const answer = await ask('Que fait l’option --purge ?');
    expect(answer.citations[0]?.quote).toBe('Supprime le paquet ainsi que tous ses fichiers de configuration.');
    expect(answer.citations[0]?.section.at(-1)).toBe('--purge');
  });

  it('refuses a question about an option the documents never name, though others are close', async () => {
    for (const question of ['Que fait l’option --purge-all ?', 'Que fait l’option --fix-missing ?']) {
      const answer = await ask(question);
      expect(answer.found, question).toBe(false);
    }
  });

  it('refuses a question about a product the documents do not know, asked in their words', async () => {
    const answer = await ask('Comment installer paqueteur sur Fedora ?');
    expect(answer.found).toBe(false);
    expect(answer.citations).toEqual([]);
  });

  it('reads a table row with its column headers', async () => {
    const answer = await ask('Que signifie la lettre c dans les états des paquets ?');
    expect(answer.citations[0]?.quote).toBe(
      'Lettre: c | Signification: le paquet a été supprimé mais sa configuration reste',
    );
  });

  it('quotes the sentence that explains a command, not the code block', async () => {
    const answer = await ask('Quelle commande installe paqueteur ?');
    expect(answer.found).toBe(true);
    expect(answer.citations.every((citation) => citation.quote !== 'apt-get install paqueteur')).toBe(true);
    expect(answer.citations[0]?.quote).toContain('exécutez la commande apt-get install paqueteur');
  });

  it('never retrieves or cites the navigation that frames every page', async () => {
    const answer = await ask('Précédent, sommaire ou suivant : où est le copyright du projet Paqueteur ?');
    const cited = [
      ...answer.citations.map((citation) => citation.quote),
      ...(answer.passages ?? []).map((p) => p.text),
    ];
    expect(cited.join(' ')).not.toMatch(/Précédent|Sommaire|Suivant|Copyright/);
  });
});
