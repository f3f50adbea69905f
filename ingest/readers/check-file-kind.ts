import { UnreadableDocumentError } from '../../core/errors.js';

/** What a file's first bytes say it is. */
export type FileKind = 'pdf' | 'zip' | 'office-encrypted' | 'image' | 'archive' | 'binary' | 'text';

/** The formats a reader expects, named as a person would. */
export type ExpectedKind = 'pdf' | 'docx' | 'text';

const NAMES: Readonly<Record<FileKind, string>> = {
  pdf: 'a PDF',
  zip: 'a ZIP archive (such as a .docx)',
  'office-encrypted': 'an encrypted Office document or a legacy Word .doc',
  image: 'an image',
  archive: 'a compressed archive',
  binary: 'binary data',
  text: 'text',
};

/**
 * Checks that a file's content is what its extension promises, before a reader is given it, and throws
 * UnreadableDocumentError with a one-line reason otherwise: an empty file, a PDF named `.txt`, a web page saved as
 * `.pdf`, a password-protected Word file (an encrypted container, not a ZIP).
 */
export function checkFileKind(bytes: Uint8Array, expected: ExpectedKind): void {
  if (bytes.length === 0) throw new UnreadableDocumentError('the file is empty');
  const kind = fileKind(bytes);
  if (expected === 'pdf' && kind === 'pdf') return;
  if (expected === 'docx' && kind === 'zip') return;
  if (expected === 'text' && kind === 'text') return;
  if (expected === 'docx' && kind === 'office-encrypted') {
    throw new UnreadableDocumentError(
      isEncryptedPackage(bytes)
        ? 'the DOCX is encrypted with a password'
        : 'the file is a legacy Word .doc, not a .docx (save it as .docx or PDF)',
    );
  }
  const wanted = expected === 'docx' ? 'a DOCX' : expected === 'pdf' ? 'a PDF' : 'text';
  throw new UnreadableDocumentError(`the file is not ${wanted} but ${NAMES[kind]}; its extension is wrong`);
}

/** What a file is, by its signature; text is what has no NUL byte in its first 8 KiB. */
export function fileKind(bytes: Uint8Array): FileKind {
  const head = Buffer.from(bytes.subarray(0, 8192));
  // The PDF header may follow some junk, within the first kilobyte.
  if (head.subarray(0, 1024).includes('%PDF-')) return 'pdf';
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) return 'zip';
  if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return 'office-encrypted';
  if (
    startsWith(head, [0x89, 0x50, 0x4e, 0x47]) ||
    startsWith(head, [0xff, 0xd8, 0xff]) ||
    startsWith(head, [0x47, 0x49, 0x46, 0x38])
  ) {
    return 'image';
  }
  if (startsWith(head, [0x1f, 0x8b]) || startsWith(head, [0x42, 0x5a, 0x68]) || startsWith(head, [0xfd, 0x37, 0x7a])) {
    return 'archive';
  }
  return head.includes(0) ? 'binary' : 'text';
}

function startsWith(bytes: Buffer, signature: readonly number[]): boolean {
  return signature.every((byte, index) => bytes[index] === byte);
}

/** An Office file encrypted with a password keeps its document in a stream of this name. */
function isEncryptedPackage(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(
    Buffer.from('EncryptedPackage', 'utf16le'),
  );
}
