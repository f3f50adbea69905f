import mammoth from 'mammoth';
import { UnreadableDocumentError } from '../../core/errors.js';
import { readHtml } from './read-html.js';
import type { Reading } from './reading.js';

/** Images are not text: they are converted to nothing rather than to data URIs the size of the image. */
const NO_IMAGES = mammoth.images.imgElement(async () => ({ src: '' }));

/**
 * Reads a Word document (.docx) through mammoth, which turns its styles into HTML (Heading 1 → `h1`, lists, tables),
 * then through the HTML reader, so that sections, list items and table rows are read as for a web page. Linked files
 * are never fetched. Throws UnreadableDocumentError for a damaged file or a ZIP that is not a Word document.
 */
export async function readDocx(bytes: Uint8Array): Promise<Reading> {
  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
      { convertImage: NO_IMAGES, externalFileAccess: false },
    );
    html = result.value;
  } catch (error) {
    const message = (error instanceof Error ? error.message.split('\n')[0] : undefined) ?? String(error);
    throw new UnreadableDocumentError(
      /main document part/i.test(message)
        ? 'the file is a ZIP archive but not a Word document'
        : `the DOCX is damaged (${message})`,
    );
  }
  const reading = readHtml(`<!DOCTYPE html><html><body>${html}</body></html>`);
  if (!/\p{L}/u.test(reading.text)) throw new UnreadableDocumentError('the DOCX holds no text');
  return reading;
}
