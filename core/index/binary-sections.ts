/**
 * A file of named binary sections: a JSON header (its byte length first, as a 32-bit little-endian integer), then
 * each section at an offset aligned to 8 bytes, so that typed arrays can view the bytes read without a copy.
 * Used by the index files that are read whole at start-up and never parsed (the keyword index, the chunk offsets).
 */

type Section = Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array;

interface SectionEntry {
  name: string;
  type: 'u8' | 'u16' | 'u32' | 'f32' | 'f64';
  offset: number;
  length: number;
}

const TYPES = {
  u8: Uint8Array,
  u16: Uint16Array,
  u32: Uint32Array,
  f32: Float32Array,
  f64: Float64Array,
} as const;

function typeOf(section: Section): SectionEntry['type'] {
  if (section instanceof Uint8Array) return 'u8';
  if (section instanceof Uint16Array) return 'u16';
  if (section instanceof Uint32Array) return 'u32';
  if (section instanceof Float32Array) return 'f32';
  return 'f64';
}

const align = (value: number) => Math.ceil(value / 8) * 8;

/** Lays out a header and sections as one buffer. */
export function encodeSections(header: object, sections: Record<string, Section>): Buffer {
  const entries: SectionEntry[] = [];
  let offset = 0;
  for (const [name, section] of Object.entries(sections)) {
    entries.push({ name, type: typeOf(section), offset, length: section.length });
    offset = align(offset + section.byteLength);
  }
  const headerBytes = Buffer.from(JSON.stringify({ ...header, sections: entries }));
  const start = align(4 + headerBytes.length);
  const buffer = Buffer.alloc(start + offset);
  buffer.writeUInt32LE(headerBytes.length, 0);
  headerBytes.copy(buffer, 4);
  Object.values(sections).forEach((section, index) => {
    const entry = entries[index];
    if (entry === undefined) return;
    Buffer.from(section.buffer as ArrayBuffer, section.byteOffset, section.byteLength).copy(
      buffer,
      start + entry.offset,
    );
  });
  return buffer;
}

/** Reads what `encodeSections` wrote; throws an Error saying what is wrong when the bytes are not such a file. */
export function decodeSections(bytes: Buffer): { header: Record<string, unknown>; sections: Map<string, Section> } {
  // Typed arrays need aligned offsets: a buffer from a pool may start anywhere, so copy it once if needed.
  const buffer = bytes.byteOffset % 8 === 0 ? bytes : Buffer.from(bytes);
  if (buffer.length < 4) throw new Error('too short');
  const headerLength = buffer.readUInt32LE(0);
  if (4 + headerLength > buffer.length) throw new Error('truncated header');
  const header = JSON.parse(buffer.subarray(4, 4 + headerLength).toString('utf8')) as Record<string, unknown>;
  const entries = header['sections'];
  if (!Array.isArray(entries)) throw new Error('no section table');
  const start = align(4 + headerLength);
  const sections = new Map<string, Section>();
  for (const entry of entries as SectionEntry[]) {
    const Type = TYPES[entry.type];
    if (Type === undefined || !Number.isInteger(entry.offset) || !Number.isInteger(entry.length)) {
      throw new Error(`bad section ${String(entry.name)}`);
    }
    const byteOffset = buffer.byteOffset + start + entry.offset;
    if (start + entry.offset + entry.length * Type.BYTES_PER_ELEMENT > buffer.length) {
      throw new Error(`section ${entry.name} is truncated`);
    }
    sections.set(entry.name, new Type(buffer.buffer as ArrayBuffer, byteOffset, entry.length));
  }
  return { header, sections };
}
