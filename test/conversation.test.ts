import { describe, expect, it } from 'vitest';
import { TermStatistics, textTerms } from '../core/answer/relevance.js';
import { verifyCitations } from '../core/answer/verify-citations.js';
import { isFollowUp, LexicalRewriter } from '../core/conversation/rewrite-question.js';
import type { Chunk } from '../core/types.js';

describe('follow-up questions', () => {
  it.each([
    ['et la Chine ?', true],
    ['Et pourquoi ?', true],
    ['where is it?', true],
    ['And China?', true],
    ['Qui est le secrétaire général de l’OTAN ?', false],
    ['Where is the new NATO command?', false],
    ['Kaja Kallas ?', false],
    // The pronoun of an inverted French question refers to nothing said before.
    ['Quand les frégates rentrent-elles à Kiel ?', false],
    ['Que fait-il ?', true],
  ])('%s is a follow-up: %s', (question, expected) => {
    expect(isFollowUp(question)).toBe(expected);
  });

  it('searches a follow-up with the last standalone question of the conversation', async () => {
    const rewriter = new LexicalRewriter();
    const history = [
      { role: 'user' as const, content: 'Que dit Mark Rutte de la Russie ?' },
      { role: 'assistant' as const, content: '…' },
      { role: 'user' as const, content: 'et la Chine ?' },
      { role: 'assistant' as const, content: '…' },
    ];
    expect(await rewriter.rewrite("et l'Iran ?", history)).toBe(
      "Que dit Mark Rutte de la Russie ? et la Chine ? et l'Iran ?",
    );
    expect(await rewriter.rewrite('Qui est Kaja Kallas ?', history)).toBe('Qui est Kaja Kallas ?');
    expect(await rewriter.rewrite('et la Chine ?', [])).toBe('et la Chine ?');
  });
});

describe('verifyCitations', () => {
  const text = 'Le commandement est à Wiesbaden. Kaja Kallas représente l’UE.';
  const chunk: Chunk = {
    id: 'c1',
    source: 'corpus/a.txt',
    title: 'A',
    section: [],
    language: 'fr',
    start: 100,
    end: 100 + text.length,
    text,
    sentences: [
      { start: 100, end: 132, kind: 'paragraph', language: 'fr' },
      { start: 133, end: 100 + text.length, kind: 'paragraph', language: 'fr' },
    ],
  };
  const statistics = new TermStatistics([textTerms(text, 'fr')]);

  it('keeps a marker written after the full stop with its sentence, and quotes the best sentence', () => {
    const verified = verifyCitations('Kallas représente l’UE. [1] Rien d’autre.', [chunk], 'fr', statistics);
    expect(verified.answer).toBe('Kallas représente l’UE. [1] Rien d’autre.');
    expect(verified.citations[0]).toMatchObject({ n: 1, quote: 'Kaja Kallas représente l’UE.', start: 133 });
    expect(verified.unsupported).toEqual(['Rien d’autre.']);
  });

  it('renumbers in order of appearance and drops markers of passages that do not exist', () => {
    const other = { ...chunk, id: 'c2' };
    const verified = verifyCitations('Wiesbaden [2][5]. Kallas [1, 2].', [chunk, other], 'fr', statistics);
    expect(verified.answer).toBe('Wiesbaden. [1] Kallas. [1] [2]');
    expect(verified.citations.map((citation) => citation.chunkId)).toEqual(['c2', 'c1']);
    expect(verified.citations[0]?.quote).toBe('Le commandement est à Wiesbaden.');
  });
});
