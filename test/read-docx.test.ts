import { describe, expect, it } from 'vitest';
import { UnreadableDocumentError } from '../core/errors.js';
import { checkFileKind } from '../ingest/readers/check-file-kind.js';
import { readDocx } from '../ingest/readers/read-docx.js';
import type { Reading } from '../ingest/readers/reading.js';
import { decryptDocx, encryptDocx, makeDocx } from './helpers/make-docx.js';

function outline(reading: Reading): string[] {
  return reading.blocks.map(
    (block) => `${block.kind}: ${reading.text.slice(block.start, block.end)} [${block.section.join(' › ')}]`,
  );
}

const guide = () =>
  makeDocx([
    { heading: 'Guide d’installation', level: 1 },
    { paragraph: 'Ce guide explique comment installer l’outil.' },
    { heading: 'Prérequis', level: 2 },
    { bullet: 'Un système Debian 12.' },
    { bullet: 'Deux gigaoctets de mémoire.' },
    { heading: 'Versions', level: 2 },
    {
      table: [
        ['Version', 'Date', 'Nouveautés'],
        ['2.1', 'mars 2024', 'Import des PDF'],
        ['2.0', 'janvier 2024', 'Réponses citées'],
      ],
    },
    { paragraph: 'Les versions plus anciennes ne sont plus suivies.' },
  ]);

/** The one-line reason a file is refused for, by its kind check and then its reader. */
async function reason(bytes: Uint8Array): Promise<string> {
  const error = await (async () => {
    checkFileKind(bytes, 'docx');
    return readDocx(bytes);
  })().then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(UnreadableDocumentError);
  return (error as Error).message;
}

describe('reading a Word document', () => {
  it('reads headings, list items and table rows with their column headers, as for HTML', async () => {
    const reading = await readDocx(await guide());
    expect(outline(reading)).toEqual([
      'heading: Guide d’installation [Guide d’installation]',
      'paragraph: Ce guide explique comment installer l’outil. [Guide d’installation]',
      'heading: Prérequis [Guide d’installation › Prérequis]',
      'list-item: Un système Debian 12. [Guide d’installation › Prérequis]',
      'list-item: Deux gigaoctets de mémoire. [Guide d’installation › Prérequis]',
      'heading: Versions [Guide d’installation › Versions]',
      'table-row: Version: 2.1 | Date: mars 2024 | Nouveautés: Import des PDF [Guide d’installation › Versions]',
      'table-row: Version: 2.0 | Date: janvier 2024 | Nouveautés: Réponses citées [Guide d’installation › Versions]',
      'paragraph: Les versions plus anciennes ne sont plus suivies. [Guide d’installation › Versions]',
    ]);
    expect(reading.title).toBe('Guide d’installation');
    expect(reading.pages).toBeUndefined();
  });

  it('says why a damaged, empty, encrypted or misnamed file cannot be read', async () => {
    const docx = await guide();
    expect(await reason(docx.subarray(0, Math.floor(docx.length / 2)))).toMatch(/^the DOCX is damaged \(/);
    expect(await reason(new Uint8Array())).toBe('the file is empty');
    expect(await reason(Buffer.from('%PDF-1.7\n…'))).toBe('the file is not a DOCX but a PDF; its extension is wrong');
    expect(await reason(Buffer.from('<html><body>Bonjour</body></html>'))).toBe(
      'the file is not a DOCX but text; its extension is wrong',
    );
    // A Word 97 file: an OLE compound file without an encrypted package.
    const legacy = Buffer.alloc(1024);
    Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(legacy);
    expect(await reason(legacy)).toMatch(/^the file is a legacy Word \.doc, not a \.docx/);
    const empty = await makeDocx([]);
    expect(await reason(empty)).toBe('the DOCX holds no text');
  });

  it('says a password-protected document is encrypted', async () => {
    const docx = await guide();
    const encrypted = encryptDocx(docx, 'secret');
    expect(await decryptDocx(encrypted, 'secret')).toEqual(docx);
    expect(await reason(encrypted)).toBe('the DOCX is encrypted with a password');
  });
});
