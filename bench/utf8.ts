// UTF-8 validation of OTLP strings: what the receiver's scan does (src/pdata/scan.ts: an ASCII fast
// path reading four bytes at a time, the native validator from the first high byte on) against a
// byte loop and against node:buffer's isUtf8 (or isAscii) called per string.
//
//   npx tsc -p tsconfig.json && node dist/bench/utf8.js [--rounds 2000]
//
// The strings: attribute-sized ASCII (3-32 bytes) packed into 60 KB with 4-15 bytes between them,
// as keys and values sit in an OTLP request. Prints µs per 60 KB for each way, median of 5 passes.
import { isAscii, isUtf8 } from 'node:buffer';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2000' } } });
const ROUNDS = Number(values.rounds);

const buf = Buffer.alloc(70_000);
const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
const ranges: number[] = [];
let seed = 1;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % n;
};
for (let at = 0; at < 60_000; ) {
  const len = 3 + rnd(30);
  for (let i = 0; i < len; i++) buf[at + i] = 97 + rnd(26);
  ranges.push(at, at + len);
  at += len + 4 + rnd(12);
}

type Check = (s: number, e: number) => boolean;
const ways: Record<string, Check> = {
  'byte loop, isUtf8 from the first high byte': (s, e) => {
    for (let i = s; i < e; i++) if (buf[i]! >= 0x80) return isUtf8(buf.subarray(i, e));
    return true;
  },
  'four bytes a read (the scan)': (s, e) => {
    let i = s;
    for (; i + 4 <= e; i += 4) if ((view.getUint32(i, true) & 0x80808080) !== 0) return isUtf8(buf.subarray(i, e));
    for (; i < e; i++) if (buf[i]! >= 0x80) return isUtf8(buf.subarray(i, e));
    return true;
  },
  'isUtf8 per string': (s, e) => isUtf8(buf.subarray(s, e)),
  'isAscii per string': (s, e) => isAscii(buf.subarray(s, e)),
};

function pass(f: Check): number {
  let ok = 0;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS; r++) for (let k = 0; k < ranges.length; k += 2) if (f(ranges[k]!, ranges[k + 1]!)) ok++;
  if (ok === 0) throw new Error('nothing valid');
  return Number(process.hrtime.bigint() - t0) / ROUNDS / 1000;
}

console.log(`${ranges.length / 2} strings in 60 KB; µs per 60 KB, median of 5 passes of ${ROUNDS} rounds`);
for (const f of Object.values(ways)) pass(f); // warm-up
const results: Record<string, number[]> = {};
for (let p = 0; p < 5; p++) for (const [name, f] of Object.entries(ways)) (results[name] ??= []).push(pass(f));
for (const [name, xs] of Object.entries(results)) {
  const m = xs.sort((a, b) => a - b)[2]!;
  console.log(`${name.padEnd(44)} ${m.toFixed(1).padStart(7)} µs`);
}
