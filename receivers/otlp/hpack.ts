// HPACK (RFC 7541) for the HTTP/2 receiver: a decoder that keeps the per-connection dynamic table,
// and a stateless encoder for response headers and trailers.
import { Buffer } from 'node:buffer';

/** Malformed or over-limit header block. The connection must end with COMPRESSION_ERROR: the peer's
 *  encoder and our dynamic table can no longer be assumed to agree. */
export class HpackError extends Error {
  override name = 'HpackError';
}

// ---- static table (RFC 7541 Appendix A); index 0 is unused so that HPACK indexes can be used as they are ----

const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC_TABLE.length; // 61; dynamic indexes start at 62
const STATIC_NAMES: readonly string[] = ['', ...STATIC_TABLE.map((f) => f[0])];
const STATIC_VALUES: readonly string[] = ['', ...STATIC_TABLE.map((f) => f[1])];

/** name -> lowest static index with that name, for "literal with indexed name". */
const STATIC_NAME_INDEX = new Map<string, number>();
/** name -> value -> static index, for fully indexed fields. */
const STATIC_PAIR_INDEX = new Map<string, Map<string, number>>();
for (let i = 1; i <= STATIC_COUNT; i++) {
  const name = STATIC_NAMES[i]!;
  if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i);
  let byValue = STATIC_PAIR_INDEX.get(name);
  if (!byValue) STATIC_PAIR_INDEX.set(name, (byValue = new Map()));
  byValue.set(STATIC_VALUES[i]!, i);
}

// ---- Huffman code (RFC 7541 Appendix B) ----
// The code is canonical, so the bit length of each symbol's code is all it takes to rebuild it.
// Symbols 0..255 are octets, 256 is EOS; 16 symbols a row.
// prettier-ignore
const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //          0x20  ' ' .. '/'
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //               0x30  '0' .. '?'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //                 0x40  '@' .. 'O'
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //              0x50  'P' .. '_'
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //                 0x60  '`' .. 'o'
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //             0x70  'p' .. DEL
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30, //                                                             EOS
];
const EOS = 256;
const HUFFMAN_CODES = new Uint32Array(257);

/** The code of a symbol (0..255, or 256 for EOS), right-aligned in `code`, `len` bits long. */
export function huffmanCode(sym: number): { code: number; len: number } {
  if (!(sym >= 0 && sym <= EOS) || !Number.isInteger(sym)) throw new RangeError(`no Huffman symbol ${sym}`);
  return { code: HUFFMAN_CODES[sym]!, len: HUFFMAN_CODE_LENGTHS[sym]! };
}

// Decoding runs a 4-bit state machine. A state is an internal node of the code tree (a complete prefix
// code over 257 symbols has exactly 256 of them; the root is state 0). DECODE[state << 4 | nibble] packs:
//   bits 0..7  the state after those 4 bits
//   bits 8..15 the symbol completed on the way (the shortest code is 5 bits, so at most one per nibble)
//   bit 16     a symbol was completed
//   bit 17     EOS was reached: always an error inside a string (RFC 7541 5.2)
const HUFF_EMIT = 0x10000;
const HUFF_FAIL = 0x20000;
const HUFF_DECODE = new Uint32Array(256 * 16);
/** 1 where a string may end in that state: at a symbol boundary, or in padding (a prefix of EOS, i.e.
 *  all ones) of at most 7 bits. */
const HUFF_ACCEPT = new Uint8Array(256);

(function buildHuffman(): void {
  // Canonical assignment: by increasing length, then increasing symbol; each code is the previous one
  // plus one, shifted left by the growth in length.
  const order = Array.from({ length: 257 }, (_, sym) => sym).sort(
    (a, b) => HUFFMAN_CODE_LENGTHS[a]! - HUFFMAN_CODE_LENGTHS[b]! || a - b,
  );
  let code = 0;
  let prevLen = HUFFMAN_CODE_LENGTHS[order[0]!]!;
  for (const sym of order) {
    const len = HUFFMAN_CODE_LENGTHS[sym]!;
    code <<= len - prevLen;
    prevLen = len;
    HUFFMAN_CODES[sym] = code;
    code++;
  }
  // A complete code ends exactly at 2^maxLen; anything else means a mistyped length.
  if (code !== 2 ** prevLen) throw new Error('hpack: Huffman code lengths do not form a complete code');

  // The tree: child[node * 2 + bit] is an internal node (>= 0) or a leaf ~symbol (< 0).
  const child = new Int32Array(256 * 2);
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  allOnes[0] = 1;
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const len = HUFFMAN_CODE_LENGTHS[sym]!;
    const bits = HUFFMAN_CODES[sym]!;
    let node = 0;
    for (let i = len - 1; i > 0; i--) {
      const bit = (bits >>> i) & 1;
      let next = child[node * 2 + bit]!;
      if (next === 0) {
        next = nodes++;
        child[node * 2 + bit] = next;
        depth[next] = depth[node]! + 1;
        allOnes[next] = allOnes[node]! & bit;
      }
      node = next;
    }
    child[node * 2 + (bits & 1)] = ~sym;
  }
  if (nodes !== 256) throw new Error('hpack: Huffman tree is not the expected shape');

  for (let state = 0; state < 256; state++) {
    HUFF_ACCEPT[state] = state === 0 || (allOnes[state] === 1 && depth[state]! <= 7) ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const next = child[node * 2 + ((nibble >>> i) & 1)]!;
        if (next >= 0) {
          node = next;
          continue;
        }
        const sym = ~next;
        if (sym === EOS) {
          entry = HUFF_FAIL;
          break;
        }
        entry = HUFF_EMIT | (sym << 8);
        node = 0;
      }
      HUFF_DECODE[(state << 4) | nibble] = entry === HUFF_FAIL ? HUFF_FAIL : entry | node;
    }
  }
})();

// ---- decoder ----

const EMPTY = new Uint8Array(0);
const ENTRY_OVERHEAD = 32; // RFC 7541 4.1
const MAX_INT = 0x7fffffff; // integers past 2^31 - 1 are refused: no legitimate value comes close

export class HpackDecoder {
  private readonly maxTableSize: number;
  private readonly maxHeaderListSize: number;
  /** Current dynamic table size limit: maxTableSize until the peer lowers it with a size update. */
  private tableLimit: number;
  private tableSize = 0;
  // The dynamic table is a ring of decoded strings; `head` is the newest entry (HPACK index 62).
  private names: string[] = new Array<string>(16).fill('');
  private values: string[] = new Array<string>(16).fill('');
  private mask = 15;
  private head = 0;
  private count = 0;
  // The block being decoded and the read position in it.
  private src: Uint8Array = EMPTY;
  private srcBuffer: Buffer | undefined;
  private pos = 0;
  /** Huffman output is written here, then read out as one latin1 string. */
  private huffOut = Buffer.allocUnsafeSlow(256);

  constructor(maxTableSize = 4096, maxHeaderListSize = 65536) {
    if (!Number.isInteger(maxTableSize) || maxTableSize < 0 || maxTableSize > MAX_INT) throw new RangeError(`bad maxTableSize ${maxTableSize}`);
    if (!(maxHeaderListSize >= 0)) throw new RangeError(`bad maxHeaderListSize ${maxHeaderListSize}`);
    this.maxTableSize = maxTableSize;
    this.maxHeaderListSize = maxHeaderListSize;
    this.tableLimit = maxTableSize;
  }

  /** Decodes one complete header block (HEADERS + CONTINUATION payloads joined, padding/priority
   *  already removed), calling onField for each field in order. Throws HpackError on malformed input;
   *  after that the decoder (and the connection) must not be used again. A header list larger than
   *  maxHeaderListSize is not an error of the connection: the block is decoded to its end (the
   *  dynamic table stays in step with the peer's encoder), fields past the limit are not handed on,
   *  and false is returned, so only that request is refused. */
  decode(block: Uint8Array, onField: (name: string, value: string) => void): boolean {
    this.src = block;
    this.pos = 0;
    try {
      const end = block.length;
      let listSize = 0;
      let fieldSeen = false;
      while (this.pos < end) {
        const first = block[this.pos]!;
        let name: string;
        let value: string;
        if (first >= 0x80) {
          // Indexed field: 1xxxxxxx
          const index = this.readInt(7);
          if (index <= STATIC_COUNT) {
            if (index === 0) throw new HpackError('indexed field with index 0');
            name = STATIC_NAMES[index]!;
            value = STATIC_VALUES[index]!;
          } else {
            const slot = this.dynamicSlot(index);
            name = this.names[slot]!;
            value = this.values[slot]!;
          }
        } else if (first >= 0x40) {
          // Literal with incremental indexing: 01xxxxxx
          name = this.readName(6);
          value = this.readString();
          this.insert(name, value);
        } else if (first >= 0x20) {
          // Dynamic table size update: 001xxxxx, only before the first field (RFC 7541 4.2)
          if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
          const size = this.readInt(5);
          if (size > this.maxTableSize) throw new HpackError(`dynamic table size update to ${size}, above the ${this.maxTableSize} allowed`);
          this.tableLimit = size;
          this.evictDownTo(size);
          continue;
        } else {
          // Literal without indexing (0000xxxx) or never indexed (0001xxxx): the same to a decoder
          name = this.readName(4);
          value = this.readString();
        }
        fieldSeen = true;
        listSize += name.length + value.length + ENTRY_OVERHEAD;
        if (listSize <= this.maxHeaderListSize) onField(name, value);
      }
      return listSize <= this.maxHeaderListSize;
    } finally {
      // Do not keep the caller's buffer alive between blocks.
      this.src = EMPTY;
      this.srcBuffer = undefined;
    }
  }

  /** Ring slot of dynamic table index (>= 62). */
  private dynamicSlot(index: number): number {
    const age = index - STATIC_COUNT - 1; // 0 = newest
    if (age >= this.count) throw new HpackError(`index ${index} is past the end of the dynamic table (${this.count} entries)`);
    return (this.head - age) & this.mask;
  }

  /** Reads an HPACK integer whose first octet, at pos, has a prefixBits-bit prefix (RFC 7541 5.1). */
  private readInt(prefixBits: number): number {
    const src = this.src;
    let pos = this.pos;
    const prefixMax = (1 << prefixBits) - 1;
    let value = src[pos++]! & prefixMax;
    if (value === prefixMax) {
      // 7 bits per continuation octet; 2^31 is reached within 5, a 6th can only be overflow or padding.
      for (let shift = 0; ; shift += 7) {
        if (pos >= src.length) throw new HpackError('truncated integer');
        if (shift > 28) throw new HpackError('integer too long');
        const octet = src[pos++]!;
        value += (octet & 0x7f) * 2 ** shift; // arithmetic, not <<, so that overflow is seen, not wrapped
        if (value > MAX_INT) throw new HpackError('integer overflow');
        if (octet < 0x80) break;
      }
    }
    this.pos = pos;
    return value;
  }

  /** The name of a literal field: an index in the prefix, or 0 and a literal string after it. */
  private readName(prefixBits: number): string {
    const index = this.readInt(prefixBits);
    if (index === 0) return this.readString();
    if (index <= STATIC_COUNT) return STATIC_NAMES[index]!;
    return this.names[this.dynamicSlot(index)]!;
  }

  /** Reads a string literal (RFC 7541 5.2) at pos. */
  private readString(): string {
    const src = this.src;
    if (this.pos >= src.length) throw new HpackError('truncated string');
    const huffman = src[this.pos]! >= 0x80;
    const length = this.readInt(7);
    const start = this.pos;
    const end = start + length;
    if (end > src.length) throw new HpackError(`truncated string: ${length} octets announced, ${src.length - start} left`);
    this.pos = end;
    if (length === 0) return '';
    if (huffman) return this.huffmanDecode(start, end);
    // Buffer's latin1 toString copies in one native step; the view is made only when a raw literal shows up.
    let buf = this.srcBuffer;
    if (buf === undefined) buf = this.srcBuffer = Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
    return buf.toString('latin1', start, end);
  }

  private huffmanDecode(start: number, end: number): string {
    const src = this.src;
    // 5 bits is the shortest code: at most 8/5 symbols per input octet.
    const maxOut = ((end - start) * 8) / 5 + 1;
    let out = this.huffOut;
    if (out.length < maxOut) out = this.huffOut = Buffer.allocUnsafeSlow(Math.max(maxOut | 0, out.length * 2));
    let n = 0;
    let state = 0;
    for (let i = start; i < end; i++) {
      const octet = src[i]!;
      let entry = HUFF_DECODE[(state << 4) | (octet >>> 4)]!;
      if (entry >= HUFF_EMIT) {
        if (entry & HUFF_FAIL) throw new HpackError('EOS in a Huffman-coded string');
        out[n++] = entry >>> 8;
      }
      entry = HUFF_DECODE[((entry & 0xff) << 4) | (octet & 0x0f)]!;
      if (entry >= HUFF_EMIT) {
        if (entry & HUFF_FAIL) throw new HpackError('EOS in a Huffman-coded string');
        out[n++] = entry >>> 8;
      }
      state = entry & 0xff;
    }
    if (HUFF_ACCEPT[state] === 0) throw new HpackError('invalid Huffman padding');
    return out.toString('latin1', 0, n);
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.tableLimit) {
      // Larger than the whole table: it empties the table and is not added (RFC 7541 4.4).
      this.evictDownTo(0);
      return;
    }
    this.evictDownTo(this.tableLimit - size);
    if (this.count === this.names.length) this.grow();
    this.head = (this.head + 1) & this.mask;
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.count++;
    this.tableSize += size;
  }

  private evictDownTo(limit: number): void {
    while (this.tableSize > limit) {
      const oldest = (this.head - this.count + 1) & this.mask;
      this.tableSize -= this.names[oldest]!.length + this.values[oldest]!.length + ENTRY_OVERHEAD;
      this.names[oldest] = '';
      this.values[oldest] = '';
      this.count--;
    }
  }

  /** Doubles the ring, oldest entry first at slot 0. It starts small: most peers keep few entries. */
  private grow(): void {
    const capacity = this.names.length * 2;
    const names = new Array<string>(capacity).fill('');
    const values = new Array<string>(capacity).fill('');
    for (let age = this.count - 1, i = 0; age >= 0; age--, i++) {
      const slot = (this.head - age) & this.mask;
      names[i] = this.names[slot]!;
      values[i] = this.values[slot]!;
    }
    this.names = names;
    this.values = values;
    this.mask = capacity - 1;
    this.head = this.count - 1;
  }
}

// ---- encoder ----

function intSize(value: number, prefixBits: number): number {
  const prefixMax = (1 << prefixBits) - 1;
  if (value < prefixMax) return 1;
  let size = 2;
  for (value -= prefixMax; value >= 0x80; value = Math.floor(value / 0x80)) size++;
  return size;
}

/** Writes an integer with a prefixBits-bit prefix; `flags` are the bits above the prefix. */
function writeInt(out: Buffer, pos: number, value: number, prefixBits: number, flags: number): number {
  const prefixMax = (1 << prefixBits) - 1;
  if (value < prefixMax) {
    out[pos++] = flags | value;
    return pos;
  }
  out[pos++] = flags | prefixMax;
  for (value -= prefixMax; value >= 0x80; value = Math.floor(value / 0x80)) out[pos++] = (value & 0x7f) | 0x80;
  out[pos++] = value;
  return pos;
}

const NOT_LATIN1 = /[^\x00-\xff]/;
/** Below this length a JS loop beats a native write call. */
const SHORT_STRING = 48;

function notLatin1(s: string): TypeError {
  // latin1 writing would silently keep only the low byte of such characters.
  return new TypeError(`header string has characters above U+00FF: ${JSON.stringify(s.slice(0, 64))}`);
}

function writeString(out: Buffer, pos: number, s: string): number {
  const length = s.length;
  pos = writeInt(out, pos, length, 7, 0); // H = 0: raw octets
  if (length < SHORT_STRING) {
    for (let i = 0; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) throw notLatin1(s);
      out[pos++] = c;
    }
    return pos;
  }
  if (NOT_LATIN1.test(s)) throw notLatin1(s);
  return pos + out.write(s, pos, 'latin1');
}

/** Encodes a header block for responses: indexed field when name+value is in the static table (e.g.
 *  ':status' '200'), otherwise "literal without indexing" with the static name index when the name is
 *  in the static table, else a literal name; strings raw (no Huffman); never touches any dynamic table
 *  (so no encoder state is needed). Strings must be latin1 (HTTP/2 fields are ASCII in practice);
 *  anything above U+00FF is a TypeError. */
export function encodeHeaderBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  // Two passes: sizes first, so that the result is one exact allocation.
  let size = 0;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const name = field[0];
    const value = field[1];
    if (STATIC_PAIR_INDEX.get(name)?.get(value) !== undefined) {
      size += 1; // static indexes are all < 127
      continue;
    }
    const nameIndex = STATIC_NAME_INDEX.get(name);
    size += nameIndex !== undefined ? intSize(nameIndex, 4) : 1 + intSize(name.length, 7) + name.length;
    size += intSize(value.length, 7) + value.length;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const name = field[0];
    const value = field[1];
    const pairIndex = STATIC_PAIR_INDEX.get(name)?.get(value);
    if (pairIndex !== undefined) {
      out[pos++] = 0x80 | pairIndex;
      continue;
    }
    const nameIndex = STATIC_NAME_INDEX.get(name);
    if (nameIndex !== undefined) pos = writeInt(out, pos, nameIndex, 4, 0x00);
    else {
      out[pos++] = 0x00;
      pos = writeString(out, pos, name);
    }
    pos = writeString(out, pos, value);
  }
  return out;
}
