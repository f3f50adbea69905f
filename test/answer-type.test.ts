import { describe, expect, it } from 'vitest';
import { answerType, canAnswer } from '../core/answer/answer-type.js';

describe('answer types', () => {
  it.each([
    ['Combien de soldats ont été envoyés ?', 'quantity'],
    ['How many ships are in the fleet?', 'quantity'],
    ['Quel est le prix du pétrole ?', 'quantity'],
    ['What is the amount of the commitment?', 'quantity'],
    ['À quelle date a-t-elle eu lieu ?', 'date'],
    ['In what year was it founded? Which year exactly?', 'date'],
    ['Quand la réunion a-t-elle eu lieu ?', 'time'],
    ['When will Ukraine join NATO?', 'time'],
    ['Et quand aptitude supprime-t-il les paquets ?', 'time'],
    // A conjunction, not a question about time.
    ['When building embedded programs, which build dependency is required?', 'any'],
    ['Qui est le secrétaire général ?', 'any'],
    ['Où se trouve le nouveau commandement ?', 'any'],
  ] as const)('%s asks for %s', (question, type) => {
    expect(answerType(question)).toBe(type);
  });

  it('needs a number for a quantity and a date for a date', () => {
    expect(canAnswer('Il a envoyé 12 000 soldats.', 'quantity')).toBe(true);
    expect(canAnswer('Trois navires ont été saisis.', 'quantity')).toBe(true);
    expect(canAnswer('Un train de mesures a été adopté.', 'quantity')).toBe(false);
    expect(canAnswer('La réunion a eu lieu le 4 décembre 2024.', 'date')).toBe(true);
    expect(canAnswer('The meeting was held on Tuesday.', 'date')).toBe(true);
    expect(canAnswer('Le moment venu, la paix sera négociée.', 'date')).toBe(false);
    expect(canAnswer('Any sentence at all.', 'any')).toBe(true);
  });

  it('does not count « toutes deux », « les deux » or "all three" as a quantity', () => {
    expect(canAnswer('La Russie et la Chine tentent toutes deux de déstabiliser nos pays.', 'quantity')).toBe(false);
    expect(canAnswer('Les deux pays coopèrent.', 'quantity')).toBe(false);
    expect(canAnswer('All three tools are described.', 'quantity')).toBe(false);
    expect(canAnswer('Deux pays coopèrent.', 'quantity')).toBe(true);
  });

  it('answers a question of time with a date, or with a condition as documentation gives it', () => {
    expect(canAnswer('aptitude les supprime quand plus aucun paquet n’en dépend.', 'time')).toBe(true);
    expect(canAnswer('The file is removed after the upgrade.', 'time')).toBe(true);
    expect(canAnswer('Released January, 2020.', 'time')).toBe(true);
    expect(canAnswer('Le paquet est supprimé.', 'time')).toBe(false);
  });
});
