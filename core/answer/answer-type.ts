import { foldText } from '../text/analyze.js';

/**
 * What kind of fact a question asks for, when its wording says so: a quantity ("combien", "how many", "le prix"), a
 * date ("en quelle année", "what date"), or a time, which documentation often gives as a condition ("quand",
 * "when": « quand plus aucun paquet n'en dépend »). A sentence without a number cannot answer the first, one
 * without a date the second, and one with neither a date nor a word of time or condition the third; this is what
 * refuses « Combien de soldats… » over a text that never counts them.
 */
export type AnswerType = 'quantity' | 'date' | 'time' | 'any';

const QUANTITY_CUES =
  /\b(?:combien|how (?:many|much)|nombre (?:de|d)|(?:le|la|du|quel|quelle) (?:montant|prix|cout|chiffre|taux|pourcentage|budget)|(?:the|what) (?:number|amount|price|cost|figure|rate|percentage|budget)|(?:number|amount|price|cost) of)\b/;
const DATE_CUES =
  /\b(?:depuis quand|a quelle date|quelle date|en quelle annee|quelle annee|quel jour|what date|which date|what year|which year|what day|since when)\b/;
/** "When"/« quand » opening the question; "when building…" is a conjunction, not a question about time. */
const TIME_CUE = /^(?:(?:et|mais|and|but)\s+)?(?:quand|when)\b(?!\s+\w+ing\b)/;

/** The type of fact the question asks for, from its wording alone. */
export function answerType(question: string): AnswerType {
  const folded = foldText(question).replace(/['’]/g, ' ').trim();
  if (DATE_CUES.test(folded)) return 'date';
  // « Quand on joue…, combien de mines… » asks for a number: "when" only sets the scene.
  if (QUANTITY_CUES.test(folded)) return 'quantity';
  if (TIME_CUE.test(folded)) return 'time';
  return 'any';
}

const NUMBER_WORDS =
  /\b(?:deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|quinze|vingt|trente|quarante|cinquante|soixante|cent|cents|mille|millions?|milliards?|dizaines?|centaines?|milliers?|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|percent|pour cent)\b/;
/** « Toutes deux », « les deux », "both": words of number that count nothing. */
const NOT_A_COUNT = /\b(?:tous|toutes|les|all)\s+(?:deux|trois|two|three)\b/g;
const MONTHS =
  /\b(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre|january|february|march|april|june|july|august|september|october|november|december|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday|aujourd hui|hier|demain|today|yesterday|tomorrow)\b/;
const YEAR = /\b(?:1[5-9]\d\d|20\d\d)\b/;
/** Words that place an event in time or under a condition. */
const TIME_WORDS =
  /\b(?:quand|lorsque|lorsqu|lors|des que|apres|avant|pendant|jusqu|chaque fois|si|when|whenever|once|after|before|during|until|while|if|unless|as soon as|every time|at the end|at the start|immediately)\b/;

/** Whether a sentence can hold a fact of the type: any sentence can hold an untyped one. */
export function canAnswer(sentence: string, type: AnswerType): boolean {
  if (type === 'any') return true;
  const folded = foldText(sentence).replace(/['’]/g, ' ');
  const hasDate = YEAR.test(folded) || MONTHS.test(folded) || /\b\d{1,2}[/.-]\d{1,2}\b/.test(folded);
  if (type === 'date') return hasDate;
  if (type === 'time') return hasDate || TIME_WORDS.test(folded) || /\d/.test(folded);
  return /\d/.test(folded) || NUMBER_WORDS.test(folded.replace(NOT_A_COUNT, ' '));
}
