// The per-request validation walk. It visits every tag of every message the table knows (down to
// attribute values), checks wire types and that each length stays inside its parent, and counts the
// items, without creating any object: input it accepts is guaranteed to decode later.
import { DecodeError, MAX_DEPTH, tooDeep } from './errors.js';
import { isUtf8 } from 'node:buffer';
import { type FieldDesc, type MessageDesc, K_STRING, WT_I32, WT_I64, WT_LEN, WT_VARINT } from './schema.js';
import { Reader } from './wire.js';

/** Validates `bytes` as a message of type `d` and returns how many items it holds. */
export function scanMessage(d: MessageDesc, bytes: Uint8Array): number {
  depth = 0;
  const r = new Reader(bytes);
  return walk(r, d, r.buf.length);
}

/** Scratch space for scanParts: eight small buffers used in turn (each kept up to SMALL_KEEP), and
 *  one for larger messages (kept up to SCRATCH_KEEP; a longer message gets a buffer of its own for
 *  the one call): at most 3 MiB, however large requests are. Several, because a receiver scans
 *  every request one socket read completed before the first of them reaches the processors: with
 *  one buffer a processor found its request's copy still there for 22 % of requests at full load,
 *  with four 65 %, with eight 91 % (lendScanned). */
const SCRATCH_KEEP = 1 << 20;
const SMALL_KEEP = 256 << 10;
const SMALL_SLOTS = 8;
/** the small slots, then the large one */
const scratches: Uint8Array[] = Array.from({ length: SMALL_SLOTS + 1 }, () => new Uint8Array(0));
const LARGE = SMALL_SLOTS;
/** per slot: the generation of the message copied into it last */
const slotGen = new Array<number>(SMALL_SLOTS + 1).fill(0);
/** Counts the messages scanned from parts: a batch remembers the one it was scanned as. */
let scratchGen = 0;
/** small slots taken in turn */
let nextSmall = 0;
/** a slot is lent to a reader (lendScanned): a scan meanwhile does not use it */
let lentSlot = -1;

/** scanMessage over a message held as consecutive parts (the chunks a socket delivered): the walk
 *  runs over a copy joined into reused scratch memory, so the parts can be kept as they are and no
 *  buffer is allocated per request. (A copy into reused memory costs a memcpy; a new buffer per
 *  request is an ArrayBuffer that counts toward V8's next mark-compact.) Returns the item count;
 *  `scannedGeneration()` then names the copy, 0 when it was not made in a reused slot. */
export function scanParts(d: MessageDesc, parts: readonly Uint8Array[]): number {
  let total = 0;
  for (const p of parts) total += p.length;
  let slot: number;
  if (total <= SMALL_KEEP) {
    slot = nextSmall;
    if (slot === lentSlot) slot = (slot + 1) % SMALL_SLOTS;
    nextSmall = (slot + 1) % SMALL_SLOTS;
  } else slot = total <= SCRATCH_KEEP && lentSlot !== LARGE ? LARGE : -1;
  // Bumped before the copy: a scan that throws has overwritten the slot all the same.
  const gen = ++scratchGen;
  let buf: Uint8Array;
  if (slot < 0) buf = new Uint8Array(total);
  else {
    buf = scratches[slot]!;
    if (total > buf.length) {
      buf = new Uint8Array(Math.max(total, Math.min(slot === LARGE ? SCRATCH_KEEP : SMALL_KEEP, buf.length * 2)));
      scratches[slot] = buf;
    }
    slotGen[slot] = gen;
  }
  lastGen = slot < 0 ? 0 : gen;
  let at = 0;
  for (const p of parts) { buf.set(p, at); at += p.length; }
  depth = 0;
  const r = new Reader(buf);
  return walk(r, d, total);
}

let lastGen = 0;

/** The generation of the last scanParts call's copy (0: not in a reused slot). */
export function scannedGeneration(): number {
  return lastGen;
}

/** Runs `fn` on the first `n` bytes of the slot that still holds the message copied as generation
 *  `gen` (not overwritten by later scans since: a processor right after its receiver), and returns
 *  its result wrapped; undefined when the copy is gone. Saves joining a request's parts a second
 *  time. `fn` must not keep the bytes; a scan it starts copies elsewhere. */
export function lendScanned<T>(gen: number, n: number, fn: (bytes: Uint8Array) => T): { value: T } | undefined {
  if (gen === 0 || lentSlot >= 0) return undefined;
  const slot = slotOf(gen);
  if (slot < 0) return undefined;
  lentSlot = slot;
  try {
    return { value: fn(scratches[slot]!.subarray(0, n)) };
  } finally {
    lentSlot = -1;
  }
}

function slotOf(gen: number): number {
  for (let i = 0; i <= LARGE; i++) if (slotGen[i] === gen) return i;
  return -1;
}

/** Nesting of the walk now (a counter rather than a parameter: reset by each entry point, so a
 *  walk that threw leaves nothing behind). */
let depth = 0;

function walk(r: Reader, d: MessageDesc, end: number): number {
  let items = 0;
  const byNo = d.byNo;
  while (r.pos < end) {
    const start = r.pos;
    const tag = r.uint32(end);
    const no = tag >>> 3;
    const wt = tag & 7;
    const f = no < byNo.length ? byNo[no] : undefined;
    if (f === undefined) {
      if (no === 0) throw new DecodeError(`field number 0 at byte ${start} in ${d.name}`);
      r.skip(wt, end);
      continue;
    }
    if (wt !== f.wireType) {
      if (!f.packed || wt !== WT_LEN) {
        throw new DecodeError(`wrong wire type ${wt} for ${d.name}.${f.name} (field ${f.no}, expects ${f.wireType}) at byte ${start}`);
      }
      const n = r.length(end);
      const e = r.pos + n;
      if (f.wireType === WT_VARINT) {
        while (r.pos < e) r.varint64(e);
      } else {
        const size = f.wireType === WT_I64 ? 8 : 4;
        if (n % size !== 0) throw new DecodeError(`packed ${d.name}.${f.name} at byte ${start}: length ${n} is not a multiple of ${size}`);
        r.pos = e;
      }
      continue;
    }
    switch (wt) {
      case WT_LEN: {
        const n = r.length(end);
        const m = f.msg;
        if (m === undefined) {
          if (f.check) checkLeaf(r, d, f, n);
          r.pos += n;
          break;
        }
        let c: number;
        if (++depth > MAX_DEPTH) throw tooDeep();
        try {
          c = walk(r, m, r.pos + n);
          depth--;
        } catch (err) {
          if (err instanceof DecodeError) err.message += ` in ${d.name}.${f.name}`;
          throw err;
        }
        items += f.item ? 1 : c;
        break;
      }
      case WT_VARINT: r.varint64(end); break;
      case WT_I64: r.fixedEnd(8, end); break;
      case WT_I32: r.fixedEnd(4, end); break;
    }
  }
  return items;
}

/** Items in a decoded tree, following only the fields that lead to them. */
export function countTree(d: MessageDesc, obj: any): number {
  let n = 0;
  const pf = d.pathFields;
  for (let i = 0; i < pf.length; i++) {
    const f = pf[i]!;
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    if (f.item) n += v.length;
    else if (f.repeated) for (let j = 0; j < v.length; j++) n += countTree(f.msg!, v[j]);
    else n += countTree(f.msg!, v);
  }
  return n;
}

/** What a strict (proto3) backend refuses is refused here, so it never shares a batch with other
 *  clients' data: strings must be UTF-8, ids 16 or 8 bytes (or empty). Out of walk(), which stays
 *  small enough for V8 to inline its reads. */
function checkLeaf(r: Reader, d: MessageDesc, f: FieldDesc, n: number): void {
  if (f.kind === K_STRING) {
    if (!utf8(r, r.pos, r.pos + n)) throw new DecodeError(`invalid UTF-8 in ${d.name}.${f.name} at byte ${r.pos}`);
  } else if (n !== 0 && n !== f.idLength) {
    throw new DecodeError(`${d.name}.${f.name} of ${n} bytes at byte ${r.pos} (must be ${f.idLength} bytes, or empty)`);
  }
}

/** UTF-8 check with an ASCII fast path: most OTLP strings are ASCII, and a loop over them, four
 *  bytes a read, costs less than a call into the native validator per string (bench/utf8.ts:
 *  ~4.7× less than a byte loop or than isUtf8 per string, on attribute-sized strings). */
function utf8(r: Reader, start: number, end: number): boolean {
  const v = r.view;
  let i = start;
  for (; i + 4 <= end; i += 4) if ((v.getUint32(i, true) & 0x80808080) !== 0) return isUtf8(r.buf.subarray(i, end));
  const b = r.buf;
  for (; i < end; i++) if (b[i]! >= 0x80) return isUtf8(b.subarray(i, end));
  return true;
}
