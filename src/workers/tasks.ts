// Everything that runs inside the worker threads (piscina loads this module in each of them): the
// CPU-heavy steps of ingest. Bytes in, bytes out: the request body arrives as a transferred
// ArrayBuffer, and what comes back is protobuf bytes (transferred, not copied) plus the item
// count, never a decoded object tree (structured-cloning one costs about three times its decode).
//
//   decode  OTLP/JSON body        → protobuf bytes + item count (fromJSON, then toProto)
//           large protobuf body   → the same bytes back + item count (the validating scan)
//   gzip    export request bytes   → gzip stream (the OTLP exporter's compression)
//   heap    → this thread's V8 heap spaces (size and used bytes), for diagnostics
//
// A malformed request is an answer, not a failure: { error } carries the DecodeError's message so
// the receiver answers INVALID_ARGUMENT / 400 as it would inline. A thrown error means the worker
// itself failed (the pool rejects the task) and is answered as retryable.
import v8 from 'node:v8';
import zlib from 'node:zlib';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { DecodeError, Telemetry, type Signal } from '../pdata/telemetry.js';
import { withTransfer } from './transfer.js';

export interface DecodeTask {
  signal: Signal;
  format: 'proto' | 'json';
  /** The body is bytes [offset, offset + length) of this (transferred) buffer... */
  buffer: ArrayBuffer;
  offset: number;
  length: number;
  /** ...or, when given, these (transferred) buffers one after the other, `length` bytes in all:
   *  the chunks the socket delivered, joined here rather than on the main thread. */
  chunks?: ArrayBuffer[];
}

export type DecodeResult =
  | { ok: true; buffer: ArrayBuffer; offset: number; length: number; count: number }
  | { ok: false; error: string };

/** The result with its buffer in the transfer list. */
function moved(result: DecodeResult & { ok: true }): unknown {
  return move({
    get [transferableSymbol]() {
      return [result.buffer];
    },
    get [valueSymbol]() {
      return result;
    },
  });
}

/** The task's body as one buffer (the chunks joined into a new one). */
function bodyOf(task: DecodeTask): { buffer: ArrayBuffer; offset: number; length: number } {
  if (task.chunks === undefined) return task;
  const out = new Uint8Array(task.length);
  let at = 0;
  for (const c of task.chunks) {
    out.set(new Uint8Array(c), at);
    at += c.byteLength;
  }
  return { buffer: out.buffer, offset: 0, length: task.length };
}

export function decode(task: DecodeTask): unknown {
  const whole = bodyOf(task);
  const body = new Uint8Array(whole.buffer, whole.offset, whole.length);
  try {
    if (task.format === 'proto') {
      const count = Telemetry.fromProto(task.signal, body).itemCount;
      return moved({ ok: true, buffer: whole.buffer, offset: whole.offset, length: whole.length, count });
    }
    const t = Telemetry.fromJSON(task.signal, body);
    const count = t.itemCount;
    const bytes = t.toProto();
    // toProto's buffer is its own (a fresh encode), so it can be moved whole.
    return moved({ ok: true, buffer: bytes.buffer as ArrayBuffer, offset: bytes.byteOffset, length: bytes.byteLength, count });
  } catch (err) {
    if (err instanceof DecodeError) return { ok: false, error: err.message };
    throw err;
  }
}

export type HeapSpaces = Record<string, { size: number; used: number }>;

export function heap(): HeapSpaces {
  const out: HeapSpaces = {};
  for (const s of v8.getHeapSpaceStatistics()) out[s.space_name] = { size: s.space_size, used: s.space_used_size };
  return out;
}

export interface GzipTask {
  /** The bytes to compress: the first `length` bytes of this (transferred) buffer. */
  input: ArrayBuffer;
  length: number;
  level: number;
}

/** zlib's output slice: a batch compresses to a few hundred KiB, and one slice of that size is one
 *  allocation instead of ~16 (the default is 16 KiB). */
const GZIP_CHUNK = 256 * 1024;

export interface GzipResult {
  /** The gzip stream is bytes [offset, offset + length) of this (moved) buffer. */
  buffer: ArrayBuffer;
  offset: number;
  length: number;
  /** The task's input buffer, moved back for the caller to reuse. */
  input: ArrayBuffer;
}

/**
 * The gzip stream of the input. Both its buffer and the input move back to the calling thread (which
 * reuses input buffers): left here, they are external memory that this thread's large young
 * generation, which gzip's few JS objects fill slowly, frees only every few seconds. At 10k spans/s
 * (a 1.5 MB batch every 200 ms) that kept ~35 MiB more RSS than gzip on libuv's threads
 * (bench/otlp-throughput.js --scenarios testbed --compression gzip: 141 vs 107 MiB).
 */
export function gzip(task: GzipTask): GzipResult {
  let z: Uint8Array = zlib.gzipSync(new Uint8Array(task.input, 0, task.length), { level: task.level, chunkSize: GZIP_CHUNK });
  // zlib's output buffer is the finished stream's own (chunkSize bytes, never Node's 8 KiB pool),
  // so it can move even when the result is a view of part of it; anything smaller is copied.
  if (z.buffer.byteLength <= Buffer.poolSize) z = new Uint8Array(z);
  const result: GzipResult = { buffer: z.buffer as ArrayBuffer, offset: z.byteOffset, length: z.byteLength, input: task.input };
  return withTransfer(result, [result.buffer, task.input]);
}
