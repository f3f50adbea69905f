import { describe, expect, it } from 'vitest';
import {
  analyze,
  analyzeQuestion,
  compounds,
  containsIdentifier,
  detectLanguage,
  foldText,
  identifiers,
} from '../core/text/analyze.js';

describe('text analysis', () => {
  it('folds case and accents', () => {
    expect(foldText('Défense ÉTRANGÈRES Kyïv œuvre')).toBe('defense etrangeres kyiv oeuvre');
  });

  it('splits elisions and drops stop words, keeping stems', () => {
    expect(analyze("l'OTAN et l’Alliance d'aujourd'hui", 'fr')).toEqual(['otan', 'allianc', 'hui']);
    expect(analyze('les ministres des Affaires étrangères', 'fr')).toEqual(['ministr', 'affair', 'etranger']);
    expect(analyze("NATO's ministers adopted measures", 'en')).toEqual(['nato', 'minist', 'adopt', 'measur']);
  });

  it('gives a question its stems in both languages, without framing words or repeats', () => {
    const terms = analyzeQuestion('Que dit le communiqué sur les défenses, la défense ?');
    expect(terms.map((term) => term.word)).toEqual(['defenses', 'defense']);
    expect(terms[0]?.stems).toContain('defens');
  });

  it('analyses a question asked again at once only once, and the next question afresh', () => {
    const first = analyzeQuestion('Où est le commandement ?');
    expect(analyzeQuestion('Où est le commandement ?')).toBe(first);
    expect(analyzeQuestion('Qui le dirige ?').map((term) => term.word)).toEqual(['dirige']);
    expect(analyzeQuestion('Où est le commandement ?')).toEqual(first);
  });

  it.each([
    ["Qui est le secrétaire général de l'OTAN ?", 'fr'],
    ['Quelles mesures ont été adoptées ?', 'fr'],
    ['Où se trouve le nouveau commandement', 'fr'],
    ['et la Chine ?', 'fr'],
    ['Who is the NATO Secretary General?', 'en'],
    ['What did the ministers adopt against Russia?', 'en'],
    ["What is NATO's new command in Wiesbaden?", 'en'],
    ['Where is it?', 'en'],
    // « a » and "a" are the same word once « à » is folded: it says nothing of the language.
    ['Spawn a new worker process.', 'en'],
    ['Returns a new already aborted `AbortSignal`.', 'en'],
  ] as const)('detects the language of %s', (question, language) => {
    expect(detectLanguage(question)).toBe(language);
  });

  it('falls back when nothing tells the language', () => {
    expect(detectLanguage('Wiesbaden', 'fr')).toBe('fr');
    expect(detectLanguage('Wiesbaden', 'en')).toBe('en');
  });

  it('finds the identifiers a question names, which a passage must hold verbatim', () => {
    expect(identifiers("What does aptitude's --no-install-recommends flag do?")).toEqual(['--no-install-recommends']);
    expect(identifiers("La valeur de l'option Aptitude::ProblemResolver::MaxSolutions ?")).toEqual([
      'aptitude::problemresolver::maxsolutions',
    ]);
    expect(identifiers('When is version 4.7.0 released, and what does /etc/apt/sources.list hold?')).toEqual([
      '4.7.0',
      '/etc/apt/sources.list',
    ]);
    expect(identifiers('Que sélectionne le terme ?garbage, et que fait -Z ?')).toEqual(['?garbage', '-z']);
    expect(identifiers('How does os.cpus() relate to availableParallelism?')).toEqual([
      'os.cpus',
      'availableparallelism',
    ]);
    expect(identifiers("Que signifie l'indicateur « c » ? And the flag h?")).toEqual(['c', 'h']);
    expect(identifiers('Can aptitude install an .rpm file?')).toEqual(['.rpm']);
    expect(identifiers('What does APT_CONFIG set?')).toEqual(['apt_config']);
    // Names, acronyms and ordinary hyphenated words are not identifiers.
    expect(identifiers("Qui dirige l'OTAN et l'UE ? What is the one-line summary?")).toEqual([]);
  });

  it('matches an identifier as a whole, not inside a longer one', () => {
    expect(containsIdentifier('run aptitude --purge now', '--purge')).toBe(true);
    expect(containsIdentifier('run aptitude --purge-unused now', '--purge')).toBe(false);
    expect(containsIdentifier('commande: %c | nom', 'c')).toBe(false);
    expect(containsIdentifier('lettre: c | signification', 'c')).toBe(true);
  });

  it('finds hyphenated compounds of content words, not the pronouns of an inverted question', () => {
    expect(compounds('Quelle plage réserve-t-elle aux conteneurs systemd-nspawn ?')).toEqual(['systemd-nspawn']);
    expect(compounds('Les frégates rentrent-elles à Kiel ?')).toEqual([]);
  });
});
