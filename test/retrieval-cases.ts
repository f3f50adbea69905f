/**
 * Questions about the communiqué with the passage that answers them: each expected quote is a substring of the
 * source, and `why` says what makes the passage the right one (and what makes the question hard).
 */
export interface RetrievalCase {
  question: string;
  expectedQuote: string;
  why: string;
}

export const RETRIEVAL_CASES: RetrievalCase[] = [
  {
    question: "Qui est la nouvelle haute représentante de l'UE ?",
    expectedQuote: 'Kaja Kallas',
    why: 'Only the NATO-Ukraine Council sentence names the EU high representative.',
  },
  {
    question: "Où l'OTAN met-elle en place un nouveau commandement ?",
    expectedQuote: 'nouveau commandement à Wiesbaden',
    why: '« commandement » occurs once, in the last sentence.',
  },
  {
    question: 'Quelles mesures les ministres ont-ils adoptées contre les activités hostiles de la Russie ?',
    expectedQuote: 'train de mesures contre les activités hostiles',
    why: 'The package of measures is listed in one sentence; « Russie » is everywhere and must not decide.',
  },
  {
    question: 'Quels pays se rapprochent de la Russie ?',
    expectedQuote: "rapprochement de la Russie, de la Chine, de la Corée du Nord et de l'Iran",
    why: 'Stemming joins « rapprochent » and « rapprochement ».',
  },
  {
    question: "Qu'est-ce qui pourrait déstabiliser la péninsule coréenne ?",
    expectedQuote: 'péninsule coréenne',
    why: '« péninsule » is unique to the quoted warning.',
  },
  {
    question: "Avec quelle organisation l'OTAN traitera-t-elle ces questions ?",
    expectedQuote: "étroite coopération avec l'Union européenne",
    why: '« traiterait ces questions » is in the same sentence as the EU cooperation.',
  },
  {
    question: "Pourquoi le soutien à l'Ukraine est-il une priorité ?",
    expectedQuote: 'négocier la paix en position de force',
    why: '« soutien » and « priorité » occur together only in this sentence.',
  },
  {
    question: 'Que transporte la flotte fantôme russe ?',
    expectedQuote: "assurant l'exportation du pétrole",
    why: '« flotte fantôme » occurs only in the list of measures.',
  },
  {
    question: "De quoi l'Ukraine a-t-elle le plus urgemment besoin ?",
    expectedQuote: "besoins les plus urgents de l'Ukraine",
    why: 'Light stemming joins « urgemment »/« besoin » with « urgents »/« besoins ».',
  },
  {
    question: 'Que tentent de faire la Russie et la Chine, selon le secrétaire général ?',
    expectedQuote: 'tentent toutes deux de déstabiliser nos pays',
    why: '« tentent » and « secrétaire général » single out the first quotation among the many on Russia and China.',
  },
  {
    question: 'Where is NATO setting up a new command?',
    expectedQuote: 'Wiesbaden',
    why: 'English on French text: command/commandement share a stem, NATO is OTAN reversed.',
  },
  {
    question: 'Who is the Ukrainian counterpart the ministers met?',
    expectedQuote: 'Andrii Sybiha',
    why: 'English on French text: ukrainian/ukrainien and ministers/ministres are cognates.',
  },
  {
    question: 'What does Russia help North Korea develop with its missiles and nuclear programme?',
    expectedQuote: 'développement de missiles et au programme nucléaire',
    why: 'English on French text: missiles, nuclear/nucléaire, programme, Korea/Corée.',
  },
];

/**
 * Questions the communiqué cannot answer, several sharing its vocabulary (défense, France, Ukraine, Russie, OTAN),
 * each with why it must be refused.
 */
export const UNANSWERABLE_CASES: Array<{ question: string; language: 'fr' | 'en'; why: string }> = [
  {
    question: 'Quel est le budget de la défense de la France ?',
    language: 'fr',
    why: 'Shares « défense »; no budget, no France.',
  },
  { question: "Quelle est la capitale de l'Australie ?", language: 'fr', why: 'Nothing in common with the text.' },
  {
    question: 'Combien de soldats la France envoie-t-elle en Ukraine ?',
    language: 'fr',
    why: 'Shares « soldats », « Ukraine »; France sends nobody in the text.',
  },
  { question: 'Qui a gagné la Coupe du monde de football en 2018 ?', language: 'fr', why: 'Sport, unrelated.' },
  { question: 'Quel temps fera-t-il demain à Bruxelles ?', language: 'fr', why: 'Weather, unrelated.' },
  {
    question: 'Quel est le prix du baril de pétrole aujourd’hui ?',
    language: 'fr',
    why: 'Shares « pétrole »; no price is given.',
  },
  { question: 'What is the weather in Paris?', language: 'en', why: 'Unrelated.' },
  {
    question: "What is France's defence budget for 2025?",
    language: 'en',
    why: 'Shares defence (défense); no budget, no France, no date.',
  },
  {
    question: 'How many tanks has Germany delivered to Ukraine?',
    language: 'en',
    why: 'Shares Ukraine; tanks and Germany are absent.',
  },
  { question: 'Who won the Eurovision song contest?', language: 'en', why: 'Unrelated.' },
];
