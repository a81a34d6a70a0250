// Export*ServiceResponse and google.rpc.Status helpers for the OTLP receivers and exporters, built
// on the same table-driven codec (the messages are in schema.ts).
import { decodeMessage } from './decode.js';
import { encodeMessage } from './encode.js';
import { DecodeError } from './errors.js';
import { MESSAGES } from './schema.js';
import type { Signal } from './telemetry.js';

interface PartialSuccess { rejected: bigint; errorMessage: string }
interface ExportResponse { partialSuccess?: PartialSuccess }
interface Any { typeUrl: string; value: Uint8Array }
interface RpcStatus { code: number; message: string; details: Any[] }
interface RetryInfo { retryDelay?: { seconds: bigint; nanos: number } }

export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/** Export*ServiceResponse bytes; empty (a valid empty message) when nothing was rejected or said. */
export function encodeExportResponse(rejected: number | bigint, errorMessage: string): Uint8Array {
  const n = BigInt(rejected);
  if (n === 0n && !errorMessage) return new Uint8Array(0);
  const res: ExportResponse = { partialSuccess: { rejected: n, errorMessage } };
  return encodeMessage(MESSAGES.ExportResponse!, res, 64);
}

/** Reads an Export*ServiceResponse (any signal). Throws DecodeError on malformed bytes. */
export function decodeExportResponse(bytes: Uint8Array): { rejected: bigint; errorMessage: string } {
  const res = decodeMessage<ExportResponse>(MESSAGES.ExportResponse!, bytes);
  return { rejected: res.partialSuccess?.rejected ?? 0n, errorMessage: res.partialSuccess?.errorMessage ?? '' };
}

const REJECTED_KEY: Record<Signal, string> = {
  traces: 'rejectedSpans', metrics: 'rejectedDataPoints', logs: 'rejectedLogRecords',
};

/** The OTLP/JSON form of an Export*ServiceResponse. */
export function exportResponseJSON(signal: Signal, rejected: number, errorMessage: string): string {
  if (!rejected && !errorMessage) return '{}';
  const fields: string[] = [];
  if (rejected) fields.push(`"${REJECTED_KEY[signal]}":"${BigInt(rejected)}"`);
  if (errorMessage) fields.push(`"errorMessage":${JSON.stringify(errorMessage)}`);
  return `{"partialSuccess":{${fields.join(',')}}}`;
}

/** A google.rpc.Status without details (the OTLP/HTTP error body). */
export function encodeStatus(code: number, message: string): Uint8Array {
  const st: RpcStatus = { code, message, details: [] };
  return encodeMessage(MESSAGES.RpcStatus!, st, 64 + message.length * 3);
}

/** A google.rpc.Status carrying a google.rpc.RetryInfo: for grpc-status-details-bin. */
export function encodeStatusWithRetryInfo(code: number, message: string, retryDelayMs: number): Uint8Array {
  const ms = Math.max(0, Math.round(retryDelayMs));
  const info: RetryInfo = { retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 } };
  const st: RpcStatus = {
    code,
    message,
    details: [{ typeUrl: RETRY_INFO_TYPE_URL, value: encodeMessage(MESSAGES.RetryInfo!, info, 32) }],
  };
  return encodeMessage(MESSAGES.RpcStatus!, st, 128 + message.length * 3);
}

/** Decodes a google.rpc.Status (throws DecodeError on malformed bytes). */
export function decodeStatus(bytes: Uint8Array): { code: number; message: string; details: { typeUrl: string; value: Uint8Array }[] } {
  return decodeMessage<RpcStatus>(MESSAGES.RpcStatus!, bytes);
}

/** The RetryInfo delay in ms carried by a google.rpc.Status; undefined if none or unparsable. */
export function retryDelayFromStatus(statusBytes: Uint8Array): number | undefined {
  try {
    const st = decodeStatus(statusBytes);
    for (const d of st.details) {
      if (d.typeUrl !== RETRY_INFO_TYPE_URL && !d.typeUrl.endsWith('/google.rpc.RetryInfo')) continue;
      const info = decodeMessage<RetryInfo>(MESSAGES.RetryInfo!, d.value);
      if (!info.retryDelay) return undefined;
      const ms = Number(info.retryDelay.seconds) * 1000 + info.retryDelay.nanos / 1e6;
      return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
    }
    return undefined;
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}
