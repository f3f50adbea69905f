import { describe, expect, it } from 'vitest';
import { termMatch, textTerms } from '../core/answer/relevance.js';
import { analyzeQuestion } from '../core/text/analyze.js';

describe('termMatch', () => {
  const [defense, russia] = analyzeQuestion('défenses Russia');

  it('matches a word by its stem, a cognate in part, and nothing in a text without content words', () => {
    expect(termMatch(defense!, textTerms('La défense aérienne', 'fr'))).toBe(1);
    const cognate = termMatch(russia!, textTerms('La Russie intensifie ses attaques', 'fr'));
    expect(cognate).toBeGreaterThan(0.5);
    expect(cognate).toBeLessThan(1);
    expect(termMatch(russia!, textTerms('Les munitions', 'fr'))).toBe(0);
    expect(termMatch(defense!, textTerms('', 'fr'))).toBe(0);
    expect(termMatch(defense!, textTerms('de la et', 'fr'))).toBe(0);
  });
});
