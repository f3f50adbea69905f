import { foldText } from '../text/analyze.js';

/**
 * What kind of fact a question asks for, when its wording says so: a quantity ("combien", "how many", "le prix")
 * or a date ("quand", "when", "en quelle année"). A sentence without a number cannot answer the first, nor one
 * without a date the second; this is what refuses « Combien de soldats… » over a text that never counts them.
 */
export type AnswerType = 'quantity' | 'date' | 'any';

const QUANTITY_CUES =
  /\b(?:combien|how (?:many|much)|nombre (?:de|d)|(?:le|la|du|quel|quelle) (?:montant|prix|cout|chiffre|taux|pourcentage|budget)|(?:the|what) (?:number|amount|price|cost|figure|rate|percentage|budget)|(?:number|amount|price|cost) of)\b/;
const DATE_CUES =
  /\b(?:quand|depuis quand|a quelle date|quelle date|en quelle annee|quel jour|when|what date|which date|what year|which year|what day|since when)\b/;

/** The type of fact the question asks for, from its wording alone. */
export function answerType(question: string): AnswerType {
  const folded = foldText(question).replace(/['’]/g, ' ');
  if (DATE_CUES.test(folded)) return 'date';
  if (QUANTITY_CUES.test(folded)) return 'quantity';
  return 'any';
}

const NUMBER_WORDS =
  /\b(?:deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|quinze|vingt|trente|quarante|cinquante|soixante|cent|cents|mille|millions?|milliards?|dizaines?|centaines?|milliers?|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|percent|pour cent)\b/;
const MONTHS =
  /\b(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre|january|february|march|april|june|july|august|september|october|november|december|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday|aujourd hui|hier|demain|today|yesterday|tomorrow)\b/;
const YEAR = /\b(?:1[5-9]\d\d|20\d\d)\b/;

/** Whether a sentence can hold a fact of the type: any sentence can hold an untyped one. */
export function canAnswer(sentence: string, type: AnswerType): boolean {
  if (type === 'any') return true;
  const folded = foldText(sentence).replace(/['’]/g, ' ');
  if (type === 'date') return YEAR.test(folded) || MONTHS.test(folded) || /\b\d{1,2}[/.-]\d{1,2}\b/.test(folded);
  return /\d/.test(folded) || NUMBER_WORDS.test(folded);
}
