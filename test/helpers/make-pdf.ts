import PDFDocument from 'pdfkit';

/** A line of text placed on a page: `y` is from the top of the page, in points, as pdfkit places it. */
export interface PlacedLine {
  text: string;
  x?: number;
  y: number;
  size?: number;
  font?: 'Helvetica' | 'Helvetica-Bold' | 'Courier';
}

export interface PdfSpec {
  /** The lines of each page; an empty page has no text (a drawn shape stands in for a scanned image). */
  pages: PlacedLine[][];
  title?: string;
  /** Encrypts the file: a user password is needed to open it; an owner password alone only restricts it. */
  userPassword?: string;
  ownerPassword?: string;
}

/** Writes a PDF with pdfkit, each line exactly where the spec puts it (US Letter pages, 612 × 792 points). */
export function makePdf(spec: PdfSpec): Promise<Buffer> {
  const document = new PDFDocument({
    size: 'LETTER',
    margin: 0,
    autoFirstPage: false,
    info: spec.title === undefined ? {} : { Title: spec.title },
    ...(spec.userPassword === undefined ? {} : { userPassword: spec.userPassword }),
    ...(spec.ownerPassword === undefined ? {} : { ownerPassword: spec.ownerPassword }),
    pdfVersion: spec.userPassword !== undefined || spec.ownerPassword !== undefined ? '1.7' : '1.4',
  });
  const chunks: Buffer[] = [];
  document.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    document.on('end', () => resolve(Buffer.concat(chunks)));
    document.on('error', reject);
  });
  for (const lines of spec.pages) {
    document.addPage();
    if (lines.length === 0) document.rect(72, 72, 468, 600).fill('#777777');
    for (const line of lines) {
      document
        .font(line.font ?? 'Helvetica')
        .fontSize(line.size ?? 11)
        .fillColor('black')
        .text(line.text, line.x ?? 72, line.y, { lineBreak: false });
    }
  }
  document.end();
  return done;
}

/** Lines of body text set one under the other from `y`, 14 points apart. */
export function paragraph(lines: readonly string[], y: number, x = 72): PlacedLine[] {
  return lines.map((text, index) => ({ text, x, y: y + index * 14 }));
}

/**
 * A three-page annual report with a running header, a heading per page in a large font, and one figure a question
 * can ask for: the turnover grew by 12 %, on page 2.
 */
export function annualReport(): Promise<Buffer> {
  return makePdf({
    title: 'Rapport annuel 2024',
    pages: [
      [
        { text: 'Rapport annuel 2024', y: 30, size: 9 },
        { text: '1. Gouvernance', y: 80, size: 18 },
        ...paragraph(
          ['Le conseil d’administration s’est réuni quatre fois en 2024 pour examiner les', 'comptes.'],
          120,
        ),
      ],
      [
        { text: 'Rapport annuel 2024', y: 30, size: 9 },
        { text: '2. Résultats', y: 80, size: 18 },
        ...paragraph(
          ['Le chiffre d’affaires de la société Exemple a progressé de 12 % en 2024 grâce aux', 'ventes de logiciels.'],
          120,
        ),
      ],
      [
        { text: 'Rapport annuel 2024', y: 30, size: 9 },
        { text: '3. Perspectives', y: 80, size: 18 },
        ...paragraph(['La société prévoit d’ouvrir un bureau à Lyon.'], 120),
      ],
    ],
  });
}
