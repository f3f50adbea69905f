/** A corpus of everyday Markdown notes, made from a seeded generator, far from the communiqué's vocabulary. */

/** An item of `items`, drawn with `next`. */
export const pick = <T>(items: readonly T[], next: () => number): T => items[Math.floor(next() * items.length)] as T;

const FRENCH = {
  subjects: ['Le jardinier', 'La boulangère', 'Le chef de gare', "L'astronome", 'La vigneronne', "L'apiculteur"],
  verbs: ['observe', 'prépare', 'note', 'compare', 'range', 'mesure'],
  objects: ['les semis de tomates', 'la pâte à pain', 'les horaires du soir', 'les anneaux de Saturne', 'les grappes'],
  tails: ['avant la pluie', 'chaque matin', 'au printemps', 'près du canal', 'pour la foire du village'],
};
const ENGLISH = {
  subjects: ['The gardener', 'The baker', 'The stationmaster', 'The astronomer', 'The winemaker', 'The beekeeper'],
  verbs: ['watches', 'prepares', 'writes down', 'compares', 'stores', 'measures'],
  objects: ['the tomato seedlings', 'the bread dough', 'the evening timetable', "Saturn's rings", 'the grapes'],
  tails: ['before the rain', 'every morning', 'in spring', 'near the canal', 'for the village fair'],
};

/** A Markdown document about everyday topics, far from the communiqué's vocabulary. */
export function generatedDocument(number: number, sentences: number, next: () => number): string {
  const words = number % 2 === 0 ? FRENCH : ENGLISH;
  const title = number % 2 === 0 ? `Carnet numéro ${number}` : `Notebook number ${number}`;
  const lines: string[] = [];
  for (let sentence = 0; sentence < sentences; sentence += 1) {
    lines.push(
      `${pick(words.subjects, next)} ${pick(words.verbs, next)} ${pick(words.objects, next)} ${pick(words.tails, next)}` +
        ` (${number}.${sentence}).`,
    );
  }
  // Paragraphs of six sentences, as a person writes them.
  const paragraphs: string[] = [];
  for (let start = 0; start < lines.length; start += 6) paragraphs.push(lines.slice(start, start + 6).join(' '));
  return `# ${title}\n\n${paragraphs.join('\n\n')}\n`;
}
