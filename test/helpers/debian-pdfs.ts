import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/**
 * Real PDFs shipped by Debian's `debian-policy` package: the Debian Policy Manual (LaTeX, with an outline) and the
 * Filesystem Hierarchy Standard 3.0 (Apache FOP, without one). `.ci/run` installs the package and `poppler-utils`,
 * whose `pdftotext` gives an independent reading of each page to check page numbers against.
 */
export const DEBIAN_PDFS = {
  policy: '/usr/share/doc/debian-policy/policy.pdf.gz',
  fhs: '/usr/share/doc/debian-policy/fhs/fhs-3.0.pdf.gz',
} as const;

const PDFTOTEXT = '/usr/bin/pdftotext';

/**
 * Whether the tests on real PDFs cannot run here. In CI they always run (a missing package fails them); elsewhere
 * they are skipped, saying so.
 */
export const debianPdfsMissing =
  !process.env.CI && ![...Object.values(DEBIAN_PDFS), PDFTOTEXT].every((file) => existsSync(file));
if (debianPdfsMissing) {
  console.warn('Skipping the tests on real PDFs: install the Debian packages debian-policy and poppler-utils.');
}

/** The bytes of one of Debian's PDFs. */
export function debianPdf(name: keyof typeof DEBIAN_PDFS): Buffer {
  return gunzipSync(readFileSync(DEBIAN_PDFS[name]));
}

/** The text of each page (index 0 is page 1) as poppler's pdftotext reads it. */
export function pdftotextPages(pdf: Buffer): string[] {
  const text = execFileSync(PDFTOTEXT, ['-enc', 'UTF-8', '-', '-'], { input: pdf, maxBuffer: 256 << 20 }).toString();
  return text.split('\f');
}

/**
 * Letters and digits only, lower-cased: two readings of a page compare equal whatever their line breaks, spacing and
 * hyphenation.
 */
export function lettersOf(text: string): string {
  return text.replace(/[^\p{L}\p{N}]/gu, '').toLowerCase();
}
