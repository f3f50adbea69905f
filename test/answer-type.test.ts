import { describe, expect, it } from 'vitest';
import { answerType, canAnswer } from '../core/answer/answer-type.js';

describe('answer types', () => {
  it.each([
    ['Combien de soldats ont été envoyés ?', 'quantity'],
    ['How many ships are in the fleet?', 'quantity'],
    ['Quel est le prix du pétrole ?', 'quantity'],
    ['What is the amount of the commitment?', 'quantity'],
    ['Quand la réunion a-t-elle eu lieu ?', 'date'],
    ['À quelle date a-t-elle eu lieu ?', 'date'],
    ['When will Ukraine join NATO?', 'date'],
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
});
