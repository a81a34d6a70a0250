// Agent Cards: fetched from /.well-known/agent-card.json (falling back to /.well-known/agent.json),
// re-fetched with If-None-Match, no sooner than Cache-Control max-age allows. What fleetcol keeps of
// a card: name, version, capabilities and the interfaces of both versions (v1.0
// `supportedInterfaces`; v0.3 `url` / `preferredTransport` / `additionalInterfaces`).
import { createHash } from 'node:crypto';
import { MAX_ID, MAX_STRING, clip, isObject, objField, strField } from './limits.js';
import { bindingOf, type Endpoint } from './binding.js';
import { readCapped } from './sse.js';
import type { ProtocolVersion } from './wire.js';

export interface AgentInterface {
  url: string;
  binding: string;
  version: string | undefined;
}

export interface CardSummary {
  name: string | undefined;
  version: string | undefined;
  /** v0.3 `protocolVersion` of the card itself. */
  protocolVersion: string | undefined;
  capabilities: Record<string, boolean>;
  interfaces: AgentInterface[];
  skills: string[];
  /** Digest of the above: a changed digest is a changed card. */
  digest: string;
}

export interface CardFetch {
  card: CardSummary | undefined;
  /** 304: the card is as it was. */
  unchanged: boolean;
  etag: string | undefined;
  /** Cache-Control max-age, ms. */
  maxAgeMs: number | undefined;
}

export const CARD_PATHS = ['/.well-known/agent-card.json', '/.well-known/agent.json'];
const MAX_INTERFACES = 32;
const MAX_SKILLS = 256;

export async function fetchCard(base: string, headers: Record<string, string>, etag: string | undefined, maxBytes: number, timeoutMs: number): Promise<CardFetch> {
  const urls = /\.json(\?.*)?$/.test(new URL(base).pathname) ? [base] : CARD_PATHS.map((p) => new URL(p, base).href);
  let last = '';
  for (const url of urls) {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (etag !== undefined) h['if-none-match'] = etag;
    const res = await fetch(url, { headers: h, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    const cache = parseMaxAge(res.headers.get('cache-control'));
    if (res.status === 304) {
      await res.body?.cancel();
      return { card: undefined, unchanged: true, etag, maxAgeMs: cache };
    }
    if (res.status === 404) {
      await res.body?.cancel();
      last = `${url}: 404`;
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`${url}: HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new Error(`${url}: card of ${declared} bytes exceeds max_card_size (${maxBytes})`);
    }
    const text = await readCapped(res, maxBytes + 1);
    if (Buffer.byteLength(text) > maxBytes) throw new Error(`${url}: card exceeds max_card_size (${maxBytes} bytes)`);
    const card = summarise(JSON.parse(text) as unknown);
    return { card, unchanged: false, etag: clipOrUndef(res.headers.get('etag')), maxAgeMs: cache };
  }
  throw new Error(`no agent card (${last})`);
}

const clipOrUndef = (s: string | null): string | undefined => (s === null ? undefined : clip(s, 256));

function parseMaxAge(cc: string | null): number | undefined {
  if (cc === null) return undefined;
  const m = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?/i.exec(cc);
  return m ? Number(m[1]) * 1000 : undefined;
}

export function summarise(raw: unknown): CardSummary {
  if (!isObject(raw)) throw new Error('agent card is not a JSON object');
  const caps: Record<string, boolean> = {};
  const c = objField(raw, 'capabilities');
  if (c) for (const [k, v] of Object.entries(c).slice(0, 32)) if (typeof v === 'boolean') caps[clip(k, 64)] = v;
  const interfaces: AgentInterface[] = [];
  if (Array.isArray(raw.supportedInterfaces)) {
    for (const i of raw.supportedInterfaces.slice(0, MAX_INTERFACES)) {
      const url = strField(i, 'url', MAX_STRING);
      if (url !== undefined) interfaces.push({ url, binding: strField(i, 'protocolBinding', 64) ?? strField(i, 'transport', 64) ?? 'JSONRPC', version: strField(i, 'protocolVersion', 32) });
    }
  }
  const v03 = strField(raw, 'protocolVersion', 32);
  const mainUrl = strField(raw, 'url', MAX_STRING);
  if (mainUrl !== undefined) interfaces.push({ url: mainUrl, binding: strField(raw, 'preferredTransport', 64) ?? 'JSONRPC', version: v03 ?? '0.3' });
  if (Array.isArray(raw.additionalInterfaces)) {
    for (const i of raw.additionalInterfaces.slice(0, MAX_INTERFACES)) {
      const url = strField(i, 'url', MAX_STRING);
      if (url !== undefined) interfaces.push({ url, binding: strField(i, 'transport', 64) ?? 'JSONRPC', version: v03 ?? '0.3' });
    }
  }
  const skills: string[] = [];
  if (Array.isArray(raw.skills)) for (const s of raw.skills.slice(0, MAX_SKILLS)) { const id = strField(s, 'id', MAX_ID); if (id !== undefined) skills.push(id); }
  const base = { name: strField(raw, 'name', MAX_ID), version: strField(raw, 'version', 64), protocolVersion: v03, capabilities: caps, interfaces, skills };
  return { ...base, digest: createHash('sha256').update(JSON.stringify(base)).digest('hex') };
}

/** The endpoint to use, its binding and protocol version: the card's first JSON-RPC interface, else
 *  its first HTTP+JSON one (v1.0 list order is preference order), of the configured version if one
 *  is set; with neither, JSON-RPC at the agent's URL. */
export function chooseInterface(card: CardSummary | undefined, agentUrl: string, want: ProtocolVersion | undefined): Endpoint {
  const major = (v: string | undefined): ProtocolVersion => (v !== undefined && /^0\./.test(v) ? '0.3' : '1.0');
  for (const binding of ['JSONRPC', 'HTTP+JSON'] as const) {
    const offered = (card?.interfaces ?? []).filter((i) => bindingOf(i.binding) === binding);
    const pick = want === undefined ? offered[0] : offered.find((i) => major(i.version) === want);
    if (pick) return { url: pick.url, version: want ?? major(pick.version), binding };
  }
  return { url: agentUrl, version: want ?? (card?.protocolVersion !== undefined ? '0.3' : '1.0'), binding: 'JSONRPC' };
}
