// HTTP/2 framing for tests that talk to a server (or play one) over raw sockets.
import net from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** One frame: 9-byte header (24-bit length, type, flags, stream id) and its payload. */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** A raw connection: writes `bytes`, collects everything until the server closes (or 3 s). */
export function raw(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    const timer = setTimeout(() => s.destroy(), 3000);
    s.on('data', (c) => got.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}

/** The frames in what a server sent: [type, flags, stream, payload]. */
export function frames(b: Buffer): Array<[number, number, number, Buffer]> {
  const out: Array<[number, number, number, Buffer]> = [];
  for (let at = 0; at + 9 <= b.length; ) {
    const len = b.readUIntBE(at, 3);
    out.push([b[at + 3]!, b[at + 4]!, b.readUInt32BE(at + 5) & 0x7fffffff, b.subarray(at + 9, at + 9 + len)]);
    at += 9 + len;
  }
  return out;
}

export const goAwayCode = (b: Buffer) => {
  const g = frames(b).find(([type]) => type === 7);
  return g ? { code: g[3].readUInt32BE(4), debug: g[3].subarray(8).toString() } : undefined;
};
