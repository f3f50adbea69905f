import {
  Document,
  HeadingLevel,
  Packer,
  Paragraph,
  Table,
  TableCell,
  TableRow,
  TextRun,
  type ISectionOptions,
} from 'docx';
import officeCrypto from 'officecrypto-tool';

/** A Word document as a test writes it: headings, paragraphs, bullet items and tables, in order. */
export type DocxPart =
  { heading: string; level: 1 | 2 | 3 } | { paragraph: string } | { bullet: string } | { table: string[][] };

const LEVELS = { 1: HeadingLevel.HEADING_1, 2: HeadingLevel.HEADING_2, 3: HeadingLevel.HEADING_3 } as const;

/** Writes a .docx with the `docx` package, with Word's own heading styles and a table whose first row is its header. */
export async function makeDocx(parts: readonly DocxPart[]): Promise<Buffer> {
  const children: ISectionOptions['children'][number][] = parts.map((part) => {
    if ('heading' in part) return new Paragraph({ text: part.heading, heading: LEVELS[part.level] });
    if ('paragraph' in part) return new Paragraph({ children: [new TextRun(part.paragraph)] });
    if ('bullet' in part) return new Paragraph({ text: part.bullet, bullet: { level: 0 } });
    return new Table({
      rows: part.table.map(
        (cells, index) =>
          new TableRow({
            tableHeader: index === 0,
            children: cells.map((cell) => new TableCell({ children: [new Paragraph(cell)] })),
          }),
      ),
    });
  });
  return Packer.toBuffer(new Document({ sections: [{ children }] }));
}

/** Encrypts a .docx with a password as Word does (ECMA-376 agile encryption, in an OLE container). */
export function encryptDocx(docx: Buffer, password: string): Buffer {
  return officeCrypto.encrypt(docx, { password });
}

/** Decrypts what `encryptDocx` made, to show that it holds the document. */
export async function decryptDocx(encrypted: Buffer, password: string): Promise<Buffer> {
  return officeCrypto.decrypt(encrypted, { password });
}
