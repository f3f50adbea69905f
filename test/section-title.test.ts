import { describe, expect, it } from 'vitest';
import { sectionTitle } from '../core/section-title.js';

describe('sectionTitle', () => {
  it('names the document, then the two innermost labels of its section path', () => {
    expect(sectionTitle('Manuel', ['Installation', 'Réseau', 'Pare-feu'])).toBe('Manuel › Réseau › Pare-feu');
    expect(sectionTitle('Manuel', [])).toBe('Manuel');
  });

  it('leaves out a label that only repeats the title, whatever its case and accents', () => {
    expect(sectionTitle('Sécurité du système', ['SECURITE DU SYSTEME', 'Pare-feu'])).toBe(
      'Sécurité du système › Pare-feu',
    );
    expect(sectionTitle('Guide aptitude', ['Guide', 'Recherche'])).toBe('Guide aptitude › Recherche');
    // Asked again, from the labels it has folded already.
    expect(sectionTitle('Sécurité du système', ['Sécurité du système', 'Mises à jour'])).toBe(
      'Sécurité du système › Mises à jour',
    );
  });
});
