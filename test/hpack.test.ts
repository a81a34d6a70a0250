// HPACK codec (receivers/otlp/hpack.ts): the RFC 7541 Appendix C examples, the Huffman code symbol by
// symbol, a real encoder (node:http2's client, i.e. nghttp2: Huffman, dynamic table, CONTINUATION)
// against a raw frame reader, malformed input, and the response encoder.
import t, { type Test } from 'tap';
import net from 'node:net';
import http2 from 'node:http2';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { encodeHeaderBlock, HpackDecoder, HpackError, huffmanCode } from '../receivers/otlp/hpack.js';
import { PREFACE, frame } from './h2-frames.js';

type Field = [string, string];

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decodeAll(decoder: HpackDecoder, block: Uint8Array): Field[] {
  const fields: Field[] = [];
  decoder.decode(block, (name, value) => fields.push([name, value]));
  return fields;
}

/** An HPACK integer (RFC 7541 5.1) with a prefixBits-bit prefix under `flags`. */
function int(value: number, prefixBits: number, flags = 0): number[] {
  const prefixMax = (1 << prefixBits) - 1;
  if (value < prefixMax) return [flags | value];
  const octets = [flags | prefixMax];
  for (value -= prefixMax; value >= 0x80; value = Math.floor(value / 0x80)) octets.push((value % 0x80) | 0x80);
  octets.push(value);
  return octets;
}

/** Huffman-encodes octets with the codec's own code table, padding with the most significant bits of EOS. */
function huffman(octets: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const octet of octets) {
    const { code, len } = huffmanCode(octet);
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >>> i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push((acc << (8 - bits)) | (0xff >> bits));
  return out;
}

/** A string literal (RFC 7541 5.2), raw or Huffman-coded. */
function str(s: string, useHuffman = false): number[] {
  const octets = useHuffman ? huffman(Buffer.from(s, 'latin1')) : [...Buffer.from(s, 'latin1')];
  return [...int(octets.length, 7, useHuffman ? 0x80 : 0), ...octets];
}

/** "Literal without indexing, new name": a header block holding one field. */
const literalBlock = (name: number[], value: number[]): Buffer => Buffer.from([0x00, ...name, ...value]);

/** The dynamic table, newest first, read back through indexed fields (which leave it unchanged). */
function dynamicTable(decoder: HpackDecoder): Field[] {
  const entries: Field[] = [];
  for (let index = 62; ; index++) {
    try {
      entries.push(...decodeAll(decoder, Buffer.from(int(index, 7, 0x80))));
    } catch (err) {
      if (err instanceof HpackError) return entries;
      throw err;
    }
  }
}

const tableSize = (entries: Field[]) => entries.reduce((sum, [n, v]) => sum + n.length + v.length + 32, 0);

// ---- 1. RFC 7541 Appendix C ----

t.test('C.2: literal and indexed field examples', async (t) => {
  const cases: Array<{ section: string; block: string; fields: Field[]; table: Field[] }> = [
    {
      section: 'C.2.1 literal with indexing',
      block: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572',
      fields: [['custom-key', 'custom-header']],
      table: [['custom-key', 'custom-header']],
    },
    { section: 'C.2.2 literal without indexing', block: '040c 2f73 616d 706c 652f 7061 7468', fields: [[':path', '/sample/path']], table: [] },
    { section: 'C.2.3 literal never indexed', block: '1008 7061 7373 776f 7264 0673 6563 7265 74', fields: [['password', 'secret']], table: [] },
    { section: 'C.2.4 indexed', block: '82', fields: [[':method', 'GET']], table: [] },
  ];
  for (const c of cases) {
    const decoder = new HpackDecoder();
    t.strictSame(decodeAll(decoder, hex(c.block)), c.fields, c.section);
    t.strictSame(dynamicTable(decoder), c.table, `${c.section}: dynamic table`);
  }
});

type Step = { block: string; fields: Field[]; table: Field[]; size: number };

function runSeries(t: Test, tableLimit: number, steps: Step[]): void {
  const decoder = new HpackDecoder(tableLimit);
  steps.forEach((step, i) => {
    t.strictSame(decodeAll(decoder, hex(step.block)), step.fields, `block ${i + 1}: fields`);
    const table = dynamicTable(decoder);
    t.strictSame(table, step.table, `block ${i + 1}: dynamic table`);
    t.equal(tableSize(table), step.size, `block ${i + 1}: dynamic table size`);
  });
}

const requestFields: Field[][] = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];
const requestTables: Field[][] = [
  [[':authority', 'www.example.com']],
  [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
  [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
];
const requestSizes = [57, 110, 164];

t.test('C.3: requests without Huffman, dynamic table carried across blocks', async (t) => {
  const blocks = [
    '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    '8286 84be 5808 6e6f 2d63 6163 6865',
    '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
  ];
  runSeries(t, 4096, blocks.map((block, i) => ({ block, fields: requestFields[i]!, table: requestTables[i]!, size: requestSizes[i]! })));
});

t.test('C.4: requests with Huffman', async (t) => {
  const blocks = [
    '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
    '8286 84be 5886 a8eb 1064 9cbf',
    '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
  ];
  runSeries(t, 4096, blocks.map((block, i) => ({ block, fields: requestFields[i]!, table: requestTables[i]!, size: requestSizes[i]! })));
});

const date21 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const date22 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const location = 'https://www.example.com';
const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const responseFields: Field[][] = [
  [[':status', '302'], ['cache-control', 'private'], ['date', date21], ['location', location]],
  [[':status', '307'], ['cache-control', 'private'], ['date', date21], ['location', location]],
  [[':status', '200'], ['cache-control', 'private'], ['date', date22], ['location', location], ['content-encoding', 'gzip'], ['set-cookie', cookie]],
];
const responseTables: Field[][] = [
  [['location', location], ['date', date21], ['cache-control', 'private'], [':status', '302']],
  [[':status', '307'], ['location', location], ['date', date21], ['cache-control', 'private']],
  [['set-cookie', cookie], ['content-encoding', 'gzip'], ['date', date22]],
];
const responseSizes = [222, 222, 215];

t.test('C.5: responses without Huffman, table size 256 with evictions', async (t) => {
  const blocks = [
    `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d
     546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
    '4803 3330 37c1 c0bf',
    `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f
     6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b
     2076 6572 7369 6f6e 3d31`,
  ];
  runSeries(t, 256, blocks.map((block, i) => ({ block, fields: responseFields[i]!, table: responseTables[i]!, size: responseSizes[i]! })));
});

t.test('C.6: responses with Huffman, table size 256 with evictions', async (t) => {
  const blocks = [
    `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7
     8f0b 97c8 e9ae 82ae 43d3`,
    '4883 640e ffc1 c0bf',
    `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335
     dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
  ];
  runSeries(t, 256, blocks.map((block, i) => ({ block, fields: responseFields[i]!, table: responseTables[i]!, size: responseSizes[i]! })));
});

// ---- 2. Huffman ----

t.test('Huffman code table', async (t) => {
  // Spot checks against RFC 7541 Appendix B.
  t.strictSame(huffmanCode(0x30), { code: 0x0, len: 5 }, "'0'");
  t.strictSame(huffmanCode(0x61), { code: 0x3, len: 5 }, "'a'");
  t.strictSame(huffmanCode(0x20), { code: 0x14, len: 6 }, "' '");
  t.strictSame(huffmanCode(0x00), { code: 0x1ff8, len: 13 }, '0x00');
  t.strictSame(huffmanCode(0xff), { code: 0x3ffffee, len: 26 }, '0xff');
  t.strictSame(huffmanCode(256), { code: 0x3fffffff, len: 30 }, 'EOS');
  // Appendix C.4.1 / C.4.2 / C.4.3 encodings.
  t.equal(Buffer.from(huffman(Buffer.from('www.example.com'))).toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
  t.equal(Buffer.from(huffman(Buffer.from('no-cache'))).toString('hex'), 'a8eb10649cbf');
  t.equal(Buffer.from(huffman(Buffer.from('custom-value'))).toString('hex'), '25a849e95bb8e8b4bf');
  // A prefix code: no code is a prefix of another, so every symbol's code is distinct at its length.
  const seen = new Set<string>();
  for (let sym = 0; sym <= 256; sym++) {
    const { code, len } = huffmanCode(sym);
    seen.add(code.toString(2).padStart(len, '0'));
  }
  const codes = [...seen];
  t.equal(codes.length, 257, '257 distinct codes');
  t.notOk(codes.some((a) => codes.some((b) => a !== b && b.startsWith(a))), 'no code is a prefix of another');
});

t.test('Huffman: every octet 0..255 encodes and decodes back', async (t) => {
  const decoder = new HpackDecoder();
  const wrong: number[] = [];
  for (let octet = 0; octet < 256; octet++) {
    const fields = decodeAll(decoder, literalBlock(str('x'), [...int(huffman(Buffer.of(octet)).length, 7, 0x80), ...huffman(Buffer.of(octet))]));
    if (fields.length !== 1 || fields[0]![1] !== String.fromCharCode(octet)) wrong.push(octet);
  }
  t.strictSame(wrong, [], 'each octet alone');

  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const allBack = Buffer.from(all).reverse();
  const fields = decodeAll(decoder, Buffer.from([0x00, ...str('x-all', true), ...str(all.toString('latin1'), true), 0x00, ...str('x-back', true), ...str(allBack.toString('latin1'), true)]));
  t.strictSame(fields, [['x-all', all.toString('latin1')], ['x-back', allBack.toString('latin1')]], 'all 256 octets in one string, both orders');

  // Every amount of padding, 0..7 bits: 'a' is 5 bits, so n of them end at 5n mod 8.
  for (let n = 0; n <= 16; n++) {
    const value = 'a'.repeat(n) + '0a';
    t.strictSame(decodeAll(decoder, literalBlock(str('x'), str(value, true))), [['x', value]], `${n} x 'a' + '0a'`);
  }
  t.strictSame(decodeAll(decoder, literalBlock(str('x'), [0x80])), [['x', '']], 'empty Huffman string');
});

t.test('Huffman: invalid padding and EOS are rejected', async (t) => {
  const decoder = () => new HpackDecoder();
  const block = (huff: number[]) => literalBlock(str('x'), [0x80 | huff.length, ...huff]);
  // 'a' = 00011, padded to 00011111.
  t.strictSame(decodeAll(decoder(), block([0x1f])), [['x', 'a']], 'valid: 3 bits of ones');
  t.throws(() => decodeAll(decoder(), block([0x18])), HpackError, 'padding of zeros');
  t.throws(() => decodeAll(decoder(), block([0x1d])), HpackError, 'padding with a zero in it');
  t.throws(() => decodeAll(decoder(), block([0x1f, 0xff])), HpackError, '11 bits of padding');
  t.throws(() => decodeAll(decoder(), block([0xff])), HpackError, 'a whole octet of padding');
  t.throws(() => decodeAll(decoder(), block([0xff, 0xff, 0xff, 0xff])), HpackError, 'EOS (30 ones) then 2 bits of padding');
  // 'a' then EOS then padding: 00011 + 30 ones + 5 ones = 40 bits.
  t.throws(() => decodeAll(decoder(), block([0x1f, 0xff, 0xff, 0xff, 0xff])), HpackError, "'a' then EOS");
  // The Huffman flag on a name too.
  t.throws(() => decodeAll(decoder(), Buffer.from([0x00, 0x81, 0x18, 0x00])), HpackError, 'bad padding in a name');
});

// ---- 3. a real encoder: node:http2's client ----

const FRAME_HEADERS = 0x1;
const FRAME_SETTINGS = 0x4;
const FRAME_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

type Seen = { blocks: Map<string, Field[]>; blockLengths: Map<string, number>; flags: number; continuations: number };

/** An HTTP/2 server just far enough to read request header blocks: one HpackDecoder per connection, and
 *  each request answered with a HEADERS frame (END_STREAM) from encodeHeaderBlock. */
function rawH2Server(seen: Seen): net.Server {
  return net.createServer((socket) => {
    const decoder = new HpackDecoder();
    let pending = Buffer.alloc(0);
    let prefaceRead = false;
    let fragments: Buffer[] = [];
    socket.on('error', () => {}); // the client may reset at the end
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (!prefaceRead) {
        if (pending.length < PREFACE.length) return;
        if (!pending.subarray(0, PREFACE.length).equals(PREFACE)) throw new Error('bad client preface');
        pending = pending.subarray(PREFACE.length);
        prefaceRead = true;
        socket.write(Buffer.concat([frame(FRAME_SETTINGS, 0, 0), frame(FRAME_SETTINGS, FLAG_ACK, 0)]));
      }
      while (pending.length >= 9) {
        const length = pending.readUIntBE(0, 3);
        if (pending.length < 9 + length) break;
        const type = pending[3]!;
        const flags = pending[4]!;
        const streamId = pending.readUInt32BE(5) & 0x7fffffff;
        let payload = pending.subarray(9, 9 + length);
        pending = pending.subarray(9 + length);
        if (type === FRAME_HEADERS) {
          seen.flags |= flags;
          if (flags & FLAG_PADDED) payload = payload.subarray(1, payload.length - payload[0]!);
          if (flags & FLAG_PRIORITY) payload = payload.subarray(5); // stream dependency (4) + weight (1)
          fragments = [payload];
        } else if (type === FRAME_CONTINUATION) {
          seen.continuations++;
          fragments.push(payload);
        } else continue;
        if (!(flags & FLAG_END_HEADERS)) continue;
        const block = Buffer.concat(fragments);
        const fields = decodeAll(decoder, block);
        const requestId = fields.find(([name]) => name === 'x-request-id')?.[1] ?? '?';
        seen.blocks.set(requestId, fields);
        seen.blockLengths.set(requestId, block.length);
        const response = encodeHeaderBlock([
          [':status', '200'],
          ['content-type', 'application/grpc'],
          ['x-fields-decoded', String(fields.length)],
          ['x-request-id', requestId],
        ]);
        socket.write(frame(FRAME_HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, streamId, response));
      }
    });
  });
}

t.test('node:http2 client (nghttp2: Huffman, dynamic table, CONTINUATION, padding, priority)', async (t) => {
  const seen: Seen = { blocks: new Map(), blockLengths: new Map(), flags: 0, continuations: 0 };
  const sockets = new Set<net.Socket>();
  const server = rawH2Server(seen);
  server.on('connection', (s) => sockets.add(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const { port } = server.address() as net.AddressInfo;
  // Padding makes nghttp2 set PADDED on HEADERS; a weight sets PRIORITY.
  const session = http2.connect(`http://127.0.0.1:${port}`, { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX });
  session.on('error', () => {});
  t.teardown(() => session.destroy());

  const bigValue = 'a=1;b=[2,3];c={"d":"e~f"}|'.repeat(800); // 20,800 octets: more than one 16 KB frame
  const sent = new Map<string, Field[]>();
  async function request(n: number, extra: Field[]): Promise<void> {
    const requestId = `req-${n}-${(n * 7919).toString(36)}`;
    const fields: Field[] = [
      [':method', 'POST'],
      [':path', '/opentelemetry.proto.collector.trace.v1.TraceService/Export'],
      [':authority', `127.0.0.1:${port}`],
      [':scheme', 'http'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['user-agent', 'grpc-node-js/1.14.7 (test; +hpack)'],
      ['grpc-accept-encoding', 'identity,deflate,gzip'],
      ['x-tenant', 'fleet-a/agents?region=eu-west-1&tier=gold'],
      ['x-request-id', requestId],
      ['traceparent', `00-${n.toString(16).padStart(32, '0')}-${(n * 31).toString(16).padStart(16, '0')}-01`],
      ...extra,
    ];
    sent.set(requestId, fields);
    // Node takes repeated names as an array value and sends them as separate fields, in order.
    const headers: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of fields) {
      const previous = headers[name];
      headers[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
    }
    Object.assign(headers, { [http2.sensitiveHeaders]: ['authorization'] }); // sent as "never indexed"
    const stream = session.request(headers, { endStream: true, weight: 200 });
    const [response] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    stream.resume();
    await once(stream, 'close');
    t.equal(response[':status'], 200, `${requestId}: status from encodeHeaderBlock, read by nghttp2`);
    t.equal(response['content-type'], 'application/grpc', `${requestId}: content-type`);
    t.equal(response['x-request-id'], requestId, `${requestId}: echoed id`);
    t.equal(response['x-fields-decoded'], String(fields.length), `${requestId}: field count`);
  }

  await request(1, [['authorization', 'bearer abc.def-ghi'], ['x-multi', 'one'], ['x-multi', 'two, three']]);
  await request(2, [['authorization', 'bearer abc.def-ghi'], ['x-multi', 'one'], ['x-multi', 'two, three']]);
  await request(3, [['x-big', bigValue], ['x-after-big', 'still here']]);
  await request(4, [['x-multi', 'one'], ['x-multi', 'two, three'], ['x-empty', ''], ['x-octets', '!#$%&\'*+-.^_`|~']]);
  // Several at once, sharing the one dynamic table.
  await Promise.all([5, 6, 7, 8].map((n) => request(n, [['x-batch', `batch-${n % 2}`]])));

  t.equal(seen.blocks.size, sent.size, 'one header block per request');
  for (const [requestId, fields] of sent) t.strictSame(seen.blocks.get(requestId), fields, `${requestId}: decoded block equals what was sent`);
  // The repeat of request 1 is mostly indexed from the dynamic table.
  const first = seen.blockLengths.get('req-1-' + (7919).toString(36))!;
  const second = seen.blockLengths.get('req-2-' + (2 * 7919).toString(36))!;
  // Without Huffman the first block could not be shorter than its raw literals: every value but that of
  // ':method POST' (a static pair), and the first use of each name not in the static table.
  const staticNames = new Set([':method', ':path', ':authority', ':scheme', 'content-type', 'user-agent', 'authorization']);
  const namesSeen = new Set<string>();
  let literalOctets = 0;
  for (const [name, value] of sent.get('req-1-' + (7919).toString(36))!.slice(1)) {
    literalOctets += value.length;
    if (!staticNames.has(name) && !namesSeen.has(name)) literalOctets += name.length;
    namesSeen.add(name);
  }
  t.ok(first < literalOctets, `request 1 was Huffman-coded (${first} octets for ${literalOctets} of raw literals)`);
  t.ok(second < first / 2, `request 2 reused the dynamic table (${second} vs ${first} octets)`);
  t.ok(seen.continuations >= 1, `the 20 KB block came in CONTINUATION frames (${seen.continuations})`);
  t.ok(seen.flags & FLAG_PADDED, 'some HEADERS frames were padded');
  t.ok(seen.flags & FLAG_PRIORITY, 'some HEADERS frames carried priority');
  session.close();
  await once(session, 'close');
});

// ---- 4. malformed and over-limit input ----

t.test('malformed blocks throw HpackError', async (t) => {
  const bad: Array<[string, number[], HpackDecoder?]> = [
    ['index 0', [0x80]],
    ['index 62 with an empty dynamic table', [0xbe]],
    ['index far past the tables', int(5000, 7, 0x80)],
    ['literal name index past the tables', [...int(70, 6, 0x40), ...str('v')]],
    ['truncated string (5 octets announced, 1 there)', [0x40, 0x05, 0x61]],
    ['truncated string: no length octet', [0x40, ...str('name')]],
    ['truncated Huffman string', [0x00, ...str('x'), 0x85, 0xf1, 0xe3]],
    ['truncated integer', [0xff]],
    ['truncated integer after continuation octets', [0xff, 0x80, 0x80]],
    ['integer overflow past 2^31', [0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    ['integer with too many continuation octets', [0x7f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]],
    ['string length past 2^31', [0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x07]],
    ['size update above maxTableSize', int(4097, 5, 0x20)],
    ['size update above a smaller maxTableSize', int(101, 5, 0x20), new HpackDecoder(100)],
    ['size update after a field', [0x82, ...int(0, 5, 0x20)]],
  ];
  for (const [what, octets, decoder] of bad) {
    t.throws(() => decodeAll(decoder ?? new HpackDecoder(), Buffer.from(octets)), HpackError, what);
  }
  // Limits hold exactly: the largest legal values pass.
  const huge = new HpackDecoder(0x7fffffff);
  t.strictSame(decodeAll(huge, Buffer.from([...int(0x7fffffff, 5, 0x20), 0x82])), [[':method', 'GET']], 'integer 2^31 - 1 (a size update) is accepted');
  t.throws(() => decodeAll(huge, Buffer.from([...int(0x80000000, 5, 0x20), 0x82])), { name: 'HpackError', message: /integer overflow/ }, 'integer 2^31 is not');
  t.strictSame(decodeAll(new HpackDecoder(), Buffer.from([...int(4096, 5, 0x20), 0x82])), [[':method', 'GET']], 'size update to exactly maxTableSize');
  t.strictSame(decodeAll(new HpackDecoder(), Buffer.from([...int(0, 5, 0x20), ...int(4096, 5, 0x20), 0x82])), [[':method', 'GET']], 'two size updates at the start');
});

t.test('header list size limit', async (t) => {
  // ':method' 'GET' counts 7 + 3 + 32 = 42.
  t.strictSame(decodeAll(new HpackDecoder(4096, 84), Buffer.from([0x82, 0x82])), [[':method', 'GET'], [':method', 'GET']], 'exactly at the limit');
  // Past the limit the block is still decoded (the table stays in step) and decode() says false:
  // the request is refused, not the connection.
  const limited = new HpackDecoder(4096, 83);
  const got: string[] = [];
  t.equal(limited.decode(Buffer.from([0x82, 0x82]), (n) => got.push(n)), false, 'one octet past the limit');
  t.same(got, [':method'], 'the fields within the limit were delivered, not the rest');
  const value = 'v'.repeat(70_000);
  const big = new HpackDecoder();
  t.equal(big.decode(literalBlock(str('x'), str(value)), () => t.fail('a field past the limit is not handed on')), false, 'one 70 KB field past the 64 KB default');
  t.strictSame(decodeAll(big, Buffer.from([0x82])), [[':method', 'GET']], 'the decoder goes on with the next block');
  const fields: string[] = [];
  const under = new HpackDecoder();
  t.equal(under.decode(Buffer.from([0x82, ...Array<number>(2000).fill(0x82)]), (n) => fields.push(n)), false, 'many small fields past the default');
  t.ok(fields.length > 0 && fields.length < 2001, `the fields before the limit were delivered (${fields.length})`);
  // An indexed entry referenced many times cannot blow up past the limit either.
  const table = new HpackDecoder();
  const refs: string[] = [];
  const ok = table.decode(Buffer.from([0x40, ...str('k'), ...str('x'.repeat(3000)), ...Array<number>(1000).fill(0xbe)]), (n) => refs.push(n));
  t.equal(ok, false);
  t.ok(refs.length < 30, `a 3 KB entry referenced 1,000 times: ${refs.length} fields handed on`);
});

t.test('dynamic table: eviction, oversized entries, size updates, growth', async (t) => {
  const decoder = new HpackDecoder(100);
  decodeAll(decoder, Buffer.from([0x40, ...str('aaaa'), ...str('1111')])); // 40 octets
  decodeAll(decoder, Buffer.from([0x40, ...str('bbbb'), ...str('2222')])); // 80
  t.strictSame(dynamicTable(decoder), [['bbbb', '2222'], ['aaaa', '1111']]);
  decodeAll(decoder, Buffer.from([0x40, ...str('cccc'), ...str('3333')])); // 120 > 100: evicts aaaa
  t.strictSame(dynamicTable(decoder), [['cccc', '3333'], ['bbbb', '2222']], 'oldest evicted');
  // A literal whose name is the entry it evicts: the name must survive the eviction.
  t.strictSame(decodeAll(decoder, Buffer.from([...int(63, 6, 0x40), ...str('4444')])), [['bbbb', '4444']], 'name from an entry evicted by its own insertion');
  t.strictSame(dynamicTable(decoder), [['bbbb', '4444'], ['cccc', '3333']]);
  decodeAll(decoder, Buffer.from([0x40, ...str('x'), ...str('y'.repeat(80))])); // 113 > 100: empties the table
  t.strictSame(dynamicTable(decoder), [], 'an entry larger than the table empties it and is not added');
  decodeAll(decoder, Buffer.from([0x40, ...str('dddd'), ...str('5555')]));
  decodeAll(decoder, Buffer.from([...int(0, 5, 0x20), ...int(50, 5, 0x20)]));
  t.strictSame(dynamicTable(decoder), [], 'size update to 0 empties the table');
  decodeAll(decoder, Buffer.from([0x40, ...str('eeee'), ...str('6666')]));
  decodeAll(decoder, Buffer.from([0x40, ...str('ffff'), ...str('7777')]));
  t.strictSame(dynamicTable(decoder), [['ffff', '7777']], 'the lowered limit (50) holds until raised');

  // Many small entries: the ring grows past its initial size and keeps the order.
  const big = new HpackDecoder(4096);
  const expected: Field[] = [];
  for (let i = 0; i < 200; i++) {
    decodeAll(big, Buffer.from([0x40, ...str(`n${i}`), ...str(`v${i}`)]));
    expected.unshift([`n${i}`, `v${i}`]);
  }
  const table = dynamicTable(big);
  t.ok(tableSize(table) <= 4096 && tableSize(table) > 4096 - 40, `table filled to its limit (${tableSize(table)})`);
  t.strictSame(table, expected.slice(0, table.length), 'newest first, oldest evicted');
});

t.test('decoder accepts a plain Uint8Array and a Buffer slice', async (t) => {
  const octets = [0x40, ...str('custom-key'), ...str('custom-value'), 0x00, ...str('raw'), ...str('value', true)];
  t.strictSame(decodeAll(new HpackDecoder(), new Uint8Array(octets)), [['custom-key', 'custom-value'], ['raw', 'value']]);
  const padded = Buffer.from([0xde, 0xad, ...octets, 0xbe, 0xef]).subarray(2, 2 + octets.length);
  t.strictSame(decodeAll(new HpackDecoder(), padded), [['custom-key', 'custom-value'], ['raw', 'value']]);
  t.strictSame(decodeAll(new HpackDecoder(), Buffer.from([0x00, ...str('x'), ...str('\xe9\xff')])), [['x', '\xe9\xff']], 'non-ASCII octets as latin1');
});

// ---- 5. encodeHeaderBlock ----

t.test('encodeHeaderBlock round-trips through HpackDecoder', async (t) => {
  const blocks: Field[][] = [
    [[':status', '200'], ['content-type', 'application/grpc']],
    [['grpc-status', '14'], ['grpc-message', 'x y%20'], ['grpc-status-details-bin', 'AAAA']],
    [[':status', '200'], ['x-big', 'z'.repeat(20_000) + '%20!'], ['content-length', '12'], ['x-empty', '']],
    [[':status', '404'], [':status', '418'], ['content-type', ''], ['www-authenticate', 'Bearer realm="fleetcol"'], ['Mixed-Case', 'kept']],
  ];
  for (const fields of blocks) {
    const block = encodeHeaderBlock(fields);
    t.strictSame(decodeAll(new HpackDecoder(0), block), fields, `${fields.map(([n]) => n).join(', ')}`);
  }
  t.equal(encodeHeaderBlock([[':status', '200'], ['content-type', 'application/grpc']]).toString('hex'), '880f10' + '10' + Buffer.from('application/grpc').toString('hex'), 'indexed :status 200, then static name 31 without indexing');
  t.equal(encodeHeaderBlock([['grpc-status', '0']]).toString('hex'), '000b' + Buffer.from('grpc-status').toString('hex') + '0130', 'literal name, raw strings');
  t.equal(encodeHeaderBlock([]).length, 0, 'empty block');
  t.throws(() => encodeHeaderBlock([['grpc-message', 'caf\u00e9 \u2603']]), TypeError, 'a character above U+00FF is refused, not mangled');
  t.throws(() => encodeHeaderBlock([['x-long', 'a'.repeat(100) + '\u2603']]), TypeError, 'likewise in a long string');
});
