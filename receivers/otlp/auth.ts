import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** Checks `Authorization: Bearer <token>` against the configured tokens in constant time. */
export class BearerAuth {
  private constructor(private readonly digests: Buffer[]) {}

  static async load(cfg: { bearer_tokens?: string[]; bearer_tokens_file?: string } | undefined): Promise<BearerAuth | undefined> {
    if (!cfg) return undefined;
    const tokens = [...(cfg.bearer_tokens ?? [])];
    if (cfg.bearer_tokens_file) {
      const text = await readFile(cfg.bearer_tokens_file, 'utf8');
      tokens.push(...text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
    }
    const usable = tokens.filter((t) => t.length > 0);
    if (usable.length === 0) throw new Error('auth: no bearer token configured (bearer_tokens is empty or unset)');
    return new BearerAuth(usable.map(sha256));
  }

  /** Returns an error message, or undefined if the header carries a known token. */
  check(header: string | undefined): string | undefined {
    if (!header) return 'missing Authorization header';
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!m) return 'Authorization header is not a Bearer token';
    const d = sha256(m[1]!);
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(known, d) || ok;
    return ok ? undefined : 'invalid bearer token';
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
