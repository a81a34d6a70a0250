// Telemetry: one batch of one signal, held as protobuf bytes for as long as nobody needs to look
// inside, and as the decoded object tree once somebody does.
//
// Why a hand-written codec: protobufjs drops unknown fields (a collector must pass through what newer
// senders add), @bufbuild/protobuf's JSON is proto3 JSON (base64 ids) rather than OTLP/JSON (hex
// ids), and the hot path (receive -> batch -> export) must not decode spans at all: fromProto only
// validates and counts, merge joins encodings (lazily), split copies raw item bytes. Everything is driven
// by one table of message descriptors (schema.ts) and one generic decoder, encoder, scanner,
// splitter and JSON mapper over it.
import { decodeMessage } from './decode.js';
import { encodeMessage } from './encode.js';
import { messageFromJSON, messageToJSON } from './json.js';
import type { ExportRequest } from './model.js';
import { countTree, lendScanned, scanMessage, scannedGeneration, scanParts } from './scan.js';
import { REQUEST_DESC } from './schema.js';
import { splitBytes } from './split.js';
import { plain } from './wire.js';

export { DecodeError } from './errors.js';
export * from './model.js';

export type Signal = 'traces' | 'metrics' | 'logs';
export const SIGNALS: readonly Signal[] = Object.freeze(['traces', 'metrics', 'logs'] as const);

function descOf(signal: Signal) {
  const d = REQUEST_DESC[signal];
  if (d === undefined) throw new TypeError(`unknown signal ${JSON.stringify(signal)}`);
  return d;
}

/** withProto's scratch memory: kept up to this size, a longer batch gets a buffer for the call. */
const JOIN_SCRATCH_KEEP = 4 << 20;
let joinScratch = new Uint8Array(0);
/** a withProto call is running (one inside it gets a buffer of its own) */
let joining = false;

export class Telemetry {
  readonly signal: Signal;
  /** protobuf encoding; undefined once the tree was modified (re-encoded lazily) */
  #bytes: Uint8Array | undefined;
  /** a merged batch's encoding as the parts it was merged from, until someone needs one buffer */
  #parts: readonly Uint8Array[] | undefined;
  #partsSize = 0;
  /** decoded tree; undefined until someone asks */
  #req: ExportRequest | undefined;
  /** item count; -1 when it must be recounted from the tree */
  #count: number;
  /** last known encoded size, to size the next encode's buffer */
  #sizeHint = 1024;
  /** the scan's copy of #parts, while the scan's scratch still holds it (see scan.ts) */
  #scanned = 0;

  private constructor(signal: Signal, bytes: Uint8Array | undefined, req: ExportRequest | undefined, count: number) {
    this.signal = signal;
    this.#bytes = bytes;
    this.#req = req;
    this.#count = count;
    if (bytes !== undefined) this.#sizeHint = bytes.length + 64;
  }

  /** Wraps protobuf bytes after one validating, counting walk; nothing is decoded. The bytes are
   *  kept, not copied: the caller must not change them afterwards. */
  static fromProto(signal: Signal, bytes: Uint8Array): Telemetry {
    const b = plain(bytes);
    return new Telemetry(signal, b, undefined, scanMessage(descOf(signal), b));
  }

  /** fromProto for an encoding that arrived in consecutive parts (a request body as the socket
   *  delivered it): validated and counted as one message, then kept as the parts, the way merge
   *  keeps them. The caller must not change them afterwards. */
  static fromProtoParts(signal: Signal, parts: readonly Uint8Array[]): Telemetry {
    const d = descOf(signal);
    const kept: Uint8Array[] = [];
    let total = 0;
    for (const p of parts) {
      if (p.length === 0) continue;
      kept.push(plain(p));
      total += p.length;
    }
    if (kept.length <= 1) return Telemetry.fromProto(signal, kept[0] ?? new Uint8Array(0));
    const t = new Telemetry(signal, undefined, undefined, scanParts(d, kept));
    t.#scanned = scannedGeneration();
    t.#parts = kept;
    t.#partsSize = total;
    t.#sizeHint = total + 64;
    return t;
  }

  /** Wraps protobuf bytes that were already validated and counted elsewhere (by fromProto or
   *  toProto in a worker thread, see src/workers): fromProto without the walk. */
  static fromValidated(signal: Signal, bytes: Uint8Array, itemCount: number): Telemetry {
    descOf(signal);
    return new Telemetry(signal, plain(bytes), undefined, itemCount);
  }

  static fromJSON(signal: Signal, json: string | Uint8Array): Telemetry {
    const req = messageFromJSON<ExportRequest>(descOf(signal), json);
    return new Telemetry(signal, undefined, req, -1);
  }

  /** Wraps an object tree; the Telemetry owns it from now on. */
  static fromRequest(signal: Signal, req: ExportRequest): Telemetry {
    descOf(signal);
    return new Telemetry(signal, undefined, req, -1);
  }

  /** Concatenation of batches of one signal: a repeated field concatenates, so the merged
   *  encoding is the parts' encodings one after the other (encoding only the parts whose tree was
   *  modified). Nothing is copied here: the parts are kept as they are until someone needs one
   *  buffer (toProto), and an exporter that can write a list of buffers (protoParts) never does.
   *  Each copy of a batch's bytes is an ArrayBuffer the GC must find and free; at full load
   *  these copies drove most of the daemon's mark-compact GCs (bench/otlp-throughput.ts). */
  static merge(parts: readonly Telemetry[]): Telemetry {
    if (parts.length === 0) throw new RangeError('Telemetry.merge: no parts');
    if (parts.length === 1) return parts[0]!;
    const signal = parts[0]!.signal;
    let total = 0, count = 0;
    const chunks: Uint8Array[] = [];
    for (const p of parts) {
      if (p.signal !== signal) throw new TypeError(`Telemetry.merge: ${p.signal} batch among ${signal}`);
      for (const b of p.protoParts()) {
        if (b.length === 0) continue;
        chunks.push(b);
        total += b.length;
      }
      count += p.itemCount;
    }
    const t = new Telemetry(signal, undefined, undefined, count);
    if (chunks.length <= 1) t.#bytes = chunks[0] ?? new Uint8Array(0);
    else {
      t.#parts = chunks;
      t.#partsSize = total;
    }
    t.#sizeHint = total + 64;
    return t;
  }

  /** Spans, metric data points (every metric type) or log records. */
  get itemCount(): number {
    if (this.#count < 0) this.#count = countTree(descOf(this.signal), this.#req);
    return this.#count;
  }

  /** Size of the protobuf encoding (encodes once if the tree was modified). */
  get byteSize(): number {
    return this.#parts !== undefined ? this.#partsSize : this.toProto().length;
  }

  /** The protobuf encoding as buffers to be written one after the other: the parts of a merged
   *  batch without joining them, otherwise [toProto()]. Treat them as read-only. */
  protoParts(): readonly Uint8Array[] {
    return this.#parts ?? [this.toProto()];
  }

  /** The protobuf encoding: the original bytes while unmodified. Treat it as read-only. */
  toProto(): Uint8Array {
    if (this.#parts !== undefined) {
      const out = plain(Buffer.allocUnsafeSlow(this.#partsSize)); // every byte is written below
      let at = 0;
      for (const b of this.#parts) { out.set(b, at); at += b.length; }
      this.#bytes = out;
      this.#parts = undefined;
    }
    if (this.#bytes === undefined) {
      this.#bytes = encodeMessage(descOf(this.signal), this.#req!, this.#sizeHint);
      this.#sizeHint = this.#bytes.length + 64;
    }
    return this.#bytes;
  }

  /** Runs `fn` on the encoding as one buffer without joining a merged batch's parts for good: they
   *  are copied into scratch memory reused from call to call (as the receiver's scan does) and stay
   *  the batch's encoding. A processor that reads every batch and passes most on unchanged (see
   *  src/pdata/edit.ts) then adds no buffer per batch; a joined copy per batch (toProto) cost it as
   *  much CPU as the reading, mostly in the GC (bench/sampler.ts). `fn` must be synchronous and keep
   *  neither the buffer nor views of it. */
  withProto<T>(fn: (bytes: Uint8Array) => T): T {
    const parts = this.#parts;
    if (parts === undefined || joining) return fn(this.toProto());
    const n = this.#partsSize;
    // Right after the receiver's scan, its joined copy is still in the scan's scratch.
    const lent = lendScanned(this.#scanned, n, fn);
    if (lent !== undefined) return lent.value;
    let buf = joinScratch;
    if (n > buf.length) {
      buf = new Uint8Array(Math.max(n, Math.min(JOIN_SCRATCH_KEEP, buf.length * 2)));
      if (buf.length <= JOIN_SCRATCH_KEEP) joinScratch = buf;
    }
    let at = 0;
    for (const b of parts) { buf.set(b, at); at += b.length; }
    joining = true;
    try {
      return fn(buf.subarray(0, n));
    } finally {
      joining = false;
    }
  }

  toJSON(): string {
    return messageToJSON(descOf(this.signal), this.request());
  }

  /** Whether the tree is decoded already (request() then costs nothing). */
  get isDecoded(): boolean {
    return this.#req !== undefined;
  }

  /** The decoded tree (decoded on first call, then cached). Call markModified() after changing it. */
  request(): ExportRequest {
    if (this.#req === undefined) this.#req = decodeMessage<ExportRequest>(descOf(this.signal), this.toProto());
    return this.#req;
  }

  /** Drops the cached encoding and count: the tree is now the truth. */
  markModified(): void {
    if (this.#req === undefined) this.request();
    this.#bytes = undefined;
    this.#parts = undefined;
    this.#count = -1;
  }

  /** An independent copy. Shares the (immutable) encoding, so it is cheap while unmodified. */
  clone(): Telemetry {
    if (this.#parts === undefined) return new Telemetry(this.signal, this.toProto(), undefined, this.itemCount);
    const t = new Telemetry(this.signal, undefined, undefined, this.itemCount);
    t.#parts = this.#parts;
    t.#scanned = this.#scanned;
    t.#partsSize = this.#partsSize;
    t.#sizeHint = this.#sizeHint;
    return t;
  }

  /** Parts of at most maxItems items each, in order, resource and scope repeated in each part.
   *  Works on the encoding: items are copied as raw bytes, not decoded. */
  split(maxItems: number): Telemetry[] {
    if (!(maxItems >= 1)) throw new RangeError(`Telemetry.split: maxItems must be >= 1, got ${maxItems}`);
    const max = Math.floor(maxItems);
    if (this.itemCount <= max) return [this];
    return splitBytes(descOf(this.signal), this.toProto(), max)
      .map((p) => new Telemetry(this.signal, p.bytes, undefined, p.count));
  }
}
