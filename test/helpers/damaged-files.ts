import { encryptDocx, makeDocx } from './make-docx.js';
import { makePdf, paragraph } from './make-pdf.js';

/** A file an ingest must skip, and the one-line reason it must give. */
export interface DamagedFile {
  content: Uint8Array | string;
  reason: string | RegExp;
}

/**
 * Files that cannot be read, made the way they happen: an empty download, a PDF cut short, a password, a scan, a web
 * page or a Word file saved under the wrong extension, a damaged or encrypted Word document, a legacy .doc renamed.
 */
export async function damagedFiles(): Promise<Record<string, DamagedFile>> {
  const pdf = await makePdf({ pages: [paragraph(['Un document ordinaire, avec assez de texte pour compter.'], 100)] });
  const docx = await makeDocx([{ paragraph: 'Un document Word ordinaire.' }]);
  const legacy = Buffer.alloc(2048);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(legacy);
  return {
    'empty.pdf': { content: new Uint8Array(), reason: 'the file is empty' },
    'cut.pdf': {
      content: pdf.subarray(0, Math.floor(pdf.length / 2)),
      reason: 'the PDF is truncated (it has no end-of-file marker)',
    },
    'locked.pdf': {
      content: await makePdf({ pages: [paragraph(['Secret.'], 100)], userPassword: 'pw', ownerPassword: 'owner' }),
      reason: 'the PDF is encrypted with a password',
    },
    'scan.pdf': { content: await makePdf({ pages: [[]] }), reason: /^the PDF has no text layer/ },
    'saved-page.pdf': {
      content: '<!DOCTYPE html><html><body><p>Une page web.</p></body></html>',
      reason: 'the file is not a PDF but text; its extension is wrong',
    },
    'report.txt': { content: pdf, reason: 'the file is not text but a PDF; its extension is wrong' },
    'broken.docx': { content: docx.subarray(0, docx.length - 200), reason: /^the DOCX is damaged \(/ },
    'locked.docx': { content: encryptDocx(docx, 'pw'), reason: 'the DOCX is encrypted with a password' },
    'old.docx': { content: legacy, reason: /^the file is a legacy Word \.doc, not a \.docx/ },
  };
}
