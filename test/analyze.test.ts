import { describe, expect, it } from 'vitest';
import { analyze, analyzeQuestion, detectLanguage, foldText } from '../core/text/analyze.js';

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

  it.each([
    ["Qui est le secrétaire général de l'OTAN ?", 'fr'],
    ['Quelles mesures ont été adoptées ?', 'fr'],
    ['Où se trouve le nouveau commandement', 'fr'],
    ['et la Chine ?', 'fr'],
    ['Who is the NATO Secretary General?', 'en'],
    ['What did the ministers adopt against Russia?', 'en'],
    ["What is NATO's new command in Wiesbaden?", 'en'],
    ['Where is it?', 'en'],
  ] as const)('detects the language of %s', (question, language) => {
    expect(detectLanguage(question)).toBe(language);
  });

  it('falls back when nothing tells the language', () => {
    expect(detectLanguage('Wiesbaden', 'fr')).toBe('fr');
    expect(detectLanguage('Wiesbaden', 'en')).toBe('en');
  });
});
