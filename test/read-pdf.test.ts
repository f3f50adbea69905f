import { beforeAll, describe, expect, it } from 'vitest';
import { UnreadableDocumentError } from '../core/errors.js';
import { readPdf } from '../ingest/readers/read-pdf.js';
import type { Reading } from '../ingest/readers/reading.js';
import { debianPdf, debianPdfsMissing, lettersOf, pdftotextPages } from './helpers/debian-pdfs.js';
import { makePdf, paragraph, type PlacedLine } from './helpers/make-pdf.js';

/** The text of a block, and the page its span ends on. */
function blockText(reading: Reading, block: Reading['blocks'][number]): string {
  return reading.text.slice(block.start, block.end);
}

function blockHolding(reading: Reading, text: string): Reading['blocks'][number] {
  const block = reading.blocks.find((candidate) => blockText(reading, candidate).includes(text));
  if (block === undefined) throw new Error(`no block holds «${text}»`);
  return block;
}

function pageText(reading: Reading, page: number): string {
  const span = reading.pages?.[page - 1];
  return span === undefined ? '' : reading.text.slice(span.start, span.end);
}

/**
 * Every page's span holds only text that poppler finds on that page: each word of six letters or more of the span is
 * on pdftotext's page. Pages are also in order and do not overlap.
 */
function expectPagesMatchPoppler(reading: Reading, poppler: readonly string[]): void {
  const pages = reading.pages ?? [];
  expect(pages.length).toBe(poppler.length - 1); // pdftotext ends every page, the last too, with a form feed
  let previousEnd = 0;
  const misplaced: string[] = [];
  for (const [index, span] of pages.entries()) {
    expect(span.start).toBeGreaterThanOrEqual(previousEnd);
    expect(span.end).toBeGreaterThanOrEqual(span.start);
    previousEnd = span.end;
    const reference = lettersOf(poppler[index] ?? '');
    for (const word of reading.text.slice(span.start, span.end).match(/\p{L}{6,}/gu) ?? []) {
      if (!reference.includes(lettersOf(word))) misplaced.push(`page ${index + 1}: ${word}`);
    }
  }
  expect(misplaced).toEqual([]);
}

describe.skipIf(debianPdfsMissing)('reading the Debian Policy Manual (PDF with an outline)', () => {
  let reading: Reading;
  let poppler: string[];
  beforeAll(async () => {
    const pdf = debianPdf('policy');
    poppler = pdftotextPages(pdf);
    reading = await readPdf(pdf);
  }, 120_000);

  it('keeps every page as a span of the text, holding what poppler reads on that page', () => {
    expect(reading.title).toBe('Debian Policy Manual');
    expect(reading.pages).toHaveLength(193);
    expectPagesMatchPoppler(reading, poppler);
    for (const block of reading.blocks) {
      const page = reading.pages?.[(block.page ?? 0) - 1];
      expect(page, `block at ${block.start}`).toBeDefined();
      expect(block.start).toBeGreaterThanOrEqual(page?.start ?? Infinity);
      expect(block.start).toBeLessThan(page?.end ?? -1);
    }
  });

  it('puts known text on its known page, with its section from the outline', () => {
    // pdftotext -f 17 -l 17 policy.pdf: the chapter "The Debian Archive" starts on page 17, the DFSG are on it.
    const chapter = blockHolding(reading, 'THE DEBIAN ARCHIVE');
    expect(blockText(reading, chapter)).toBe('CHAPTER TWO THE DEBIAN ARCHIVE');
    expect(chapter).toMatchObject({ kind: 'heading', page: 17, section: ['The Debian Archive'] });
    expect(blockHolding(reading, 'The Debian Free Software Guidelines (DFSG) form our definition')).toMatchObject({
      page: 17,
      section: ['The Debian Archive', '2.1 The Debian Free Software Guidelines'],
    });
    // pdftotext -f 20 -l 20: « 2.4 Sections » is on page 20, printed as page 10.
    expect(blockHolding(reading, '2.4 Sections')).toMatchObject({ kind: 'heading', page: 20 });
    expect(lettersOf(poppler[19] ?? '')).toContain(lettersOf('2.4 Sections The packages in the archive areas'));
    const priorities = blockHolding(reading, 'Each package must have a priority value');
    expect(priorities.page).toBe(21);
    expect(priorities.section).toEqual(['The Debian Archive', '2.5 Priorities']);
  });

  it('keeps a paragraph that runs over a page break whole, on the page it starts on', () => {
    const block = blockHolding(reading, 'Bob may make Debian-specific modifications');
    expect(block.page).toBe(15);
    const page15 = reading.pages?.[14];
    expect(block.end).toBeGreaterThan(page15?.end ?? Infinity);
    // Its first words are on page 15 and its last ones on page 16, for poppler too.
    const text = blockText(reading, block);
    expect(lettersOf(poppler[14] ?? '')).toContain(lettersOf(text.slice(0, 80)));
    expect(lettersOf(poppler[15] ?? '')).toContain(lettersOf(text.slice(-80)));
  });

  it('leaves out running headers, footers, page numbers and the table of contents', () => {
    // Every page from 14 on has « Debian Policy Manual, Release 4.6.2.0 » at its top; only the title page keeps it.
    expect(reading.text.match(/Release 4\.6\.2\.0/g)).toHaveLength(1);
    expect(reading.text).not.toMatch(/\d+ Chapter 2\. The Debian Archive|2\.5\. Priorities \d+/);
    expect(reading.text.split('\n').filter((line) => /^\s*(?:\d+|[ivx]+)\s*$/.test(line))).toEqual([]);
    const contents = reading.blocks.filter((block) => (block.page ?? 0) >= 3 && (block.page ?? 0) <= 10);
    expect(contents.map((block) => blockText(reading, block))).toEqual(['CONTENTS']);
  });

  it('joins words hyphenated at line ends, keeping the hyphen of compound words', () => {
    // Page 20 breaks « Sec- » / « tion », page 122 « Half- » / « Installed ».
    expect(pageText(reading, 20)).toContain('control record (see Section). However');
    expect(reading.text).not.toMatch(/Sec- ?tion/);
    expect(reading.text).toContain('“Half-Installed”');
    expect(reading.text).toContain('non-free');
  });
});

describe.skipIf(debianPdfsMissing)('reading the Filesystem Hierarchy Standard (PDF without an outline)', () => {
  let reading: Reading;
  let poppler: string[];
  beforeAll(async () => {
    const pdf = debianPdf('fhs');
    poppler = pdftotextPages(pdf);
    reading = await readPdf(pdf);
  }, 120_000);

  it('finds headings and their levels by font size, and pages as poppler does', () => {
    expect(reading.title).toBe('Filesystem Hierarchy Standard');
    expect(reading.pages).toHaveLength(50);
    expectPagesMatchPoppler(reading, poppler);
    // pdftotext -f 10 -l 10 fhs-3.0.pdf: chapter 3 starts on page 10 (printed page 3).
    expect(blockHolding(reading, 'The contents of the root filesystem must be adequate')).toMatchObject({
      page: 10,
      section: ['Chapter 3. The Root Filesystem', '3.1. Purpose'],
    });
    expect(blockHolding(reading, '3.4.1. Purpose')).toMatchObject({
      kind: 'heading',
      section: [
        'Chapter 3. The Root Filesystem',
        '3.4. /bin : Essential user command binaries (for use by all users)',
        '3.4.1. Purpose',
      ],
    });
  });

  it('leaves out the running header naming the chapter and the page numbers', () => {
    // Pages 27 to 41 are headed « The /usr Hierarchy »; only the chapter's own heading says it.
    expect(reading.text.match(/The \/usr Hierarchy/g)?.length).toBeLessThanOrEqual(2);
    expect(reading.text.split('\n').filter((line) => /^\s*(?:\d+|[ivx]+)\s*$/.test(line))).toEqual([]);
    expect(pageText(reading, 30)).toMatch(/^This hierarchy is intended to be shareable/);
  });
});

/** A running header and a page number, as most reports have them. */
function furniture(page: number): PlacedLine[] {
  return [
    { text: 'Rapport annuel 2024 — Société Exemple', y: 30, size: 9 },
    { text: String(page), x: 300, y: 750, size: 9 },
  ];
}

describe('reading a generated PDF', () => {
  let reading: Reading;
  beforeAll(async () => {
    const pdf = await makePdf({
      title: 'Rapport annuel 2024',
      pages: [
        [
          ...furniture(1),
          { text: '1. Introduction', y: 80, size: 18 },
          ...paragraph(
            [
              'Le comité de direction s’est réuni en mars pour examiner les',
              'résultats de l’exercice et pour préparer l’assemblée géné-',
              'rale des actionnaires.',
            ],
            120,
          ),
          ...paragraph(
            [
              'Le rapport présente ensuite la situation financière de la',
              'société, selon le porte-parole du groupe, et les décisions que le',
            ],
            180,
          ),
        ],
        [
          ...furniture(2),
          ...paragraph(['comité a prises au sujet des investissements.'], 80),
          { text: '2. Résultats', y: 130, size: 18 },
          ...paragraph(
            ['Le chiffre d’affaires a progressé de 12 % sur l’année, a indiqué le porte-', 'parole du groupe.'],
            170,
          ),
        ],
        [
          ...furniture(3),
          { text: '3. Perspectives', y: 80, size: 18 },
          ...paragraph(['Le groupe prévoit d’embaucher.'], 120),
        ],
        [],
      ],
    });
    reading = await readPdf(pdf);
  });

  it('keeps each page as a span, an empty one for a page without text', () => {
    expect(reading.title).toBe('Rapport annuel 2024');
    expect(reading.pages).toHaveLength(4);
    expect(pageText(reading, 1)).toMatch(/^1\. Introduction\n\nLe comité de direction/);
    expect(pageText(reading, 2)).toMatch(/^comité a prises au sujet des investissements\.\n\n2\. Résultats/);
    expect(pageText(reading, 3)).toBe('3. Perspectives\n\nLe groupe prévoit d’embaucher.');
    const last = reading.pages?.[3];
    expect(last?.start).toBe(last?.end);
  });

  it('drops the running header and the page numbers, joins hyphenated words and paragraphs over a page break', () => {
    expect(reading.text).not.toMatch(/Rapport annuel|Société Exemple|^\d$/m);
    expect(reading.text).toContain('pour préparer l’assemblée générale des actionnaires.');
    expect(reading.text).toContain('a indiqué le porte-parole du groupe.');
    const runOn = blockHolding(reading, 'Le rapport présente ensuite');
    expect(blockText(reading, runOn)).toBe(
      'Le rapport présente ensuite la situation financière de la société, selon le porte-parole du groupe, et les ' +
        'décisions que le comité a prises au sujet des investissements.',
    );
    expect(runOn.page).toBe(1);
  });

  it('finds the headings by their font size, with the page each block starts on', () => {
    const outline = reading.blocks.map((block) => `${block.page} ${block.kind}: ${block.section.join(' › ')}`);
    expect(outline).toEqual([
      '1 heading: 1. Introduction',
      '1 paragraph: 1. Introduction',
      '1 paragraph: 1. Introduction',
      '2 heading: 2. Résultats',
      '2 paragraph: 2. Résultats',
      '3 heading: 3. Perspectives',
      '3 paragraph: 3. Perspectives',
    ]);
  });
});

describe('PDFs that cannot be read', () => {
  const reason = async (pdf: Uint8Array): Promise<string> => {
    const error = await readPdf(pdf).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(UnreadableDocumentError);
    return (error as Error).message;
  };
  const onePage = (options: { userPassword?: string; ownerPassword?: string } = {}) =>
    makePdf({ pages: [paragraph(['Une page de texte ordinaire, assez longue pour compter.'], 100)], ...options });

  it('says the file is encrypted when it needs a password, and reads one that only restricts printing', async () => {
    expect(await reason(await onePage({ userPassword: 'secret', ownerPassword: 'owner' }))).toBe(
      'the PDF is encrypted with a password',
    );
    const restricted = await readPdf(await onePage({ ownerPassword: 'owner' }));
    expect(restricted.text).toBe('Une page de texte ordinaire, assez longue pour compter.');
  });

  it('says a scanned PDF has no text layer', async () => {
    expect(await reason(await makePdf({ pages: [[], []] }))).toMatch(/^the PDF has no text layer/);
  });

  it('says a file is truncated or damaged', async () => {
    const whole = await onePage();
    expect(await reason(whole.subarray(0, Math.floor(whole.length * 0.6)))).toBe(
      'the PDF is truncated (it has no end-of-file marker)',
    );
    const garbage = Buffer.concat([
      Buffer.from('%PDF-1.4\n'),
      Buffer.from(Array.from({ length: 4000 }, (_, index) => (index * 7919) % 251)),
      Buffer.from('\n%%EOF\n'),
    ]);
    expect(await reason(garbage)).toMatch(/^the PDF (?:is damaged|cannot be read) \(/);
  });
});
