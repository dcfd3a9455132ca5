/** The compressions the server offers (the preferences read, the Config UI's files), best first. */
export const COMPRESSIONS = ['br', 'gzip'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/**
 * The compression an Accept-Encoding header (RFC 9110, 12.5.3) takes best: each coding by its own entry,
 * or else by `*`, with the highest quality above zero; on a tie, brotli (the smaller). `gzip;q=0` refuses
 * gzip even where `*` would take it. Written for the hot read rather than as a general negotiation.
 */
export function preferredCompression(header: string | string[] | undefined): Compression | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!/gzip|br|\*/i.test(text)) return undefined;
  // Of several entries of one coding, the highest quality counts.
  const named = new Map<string, number>();
  for (const part of text.split(',')) {
    const [coding = '', ...parameters] = part.split(';');
    const name = coding.trim().toLowerCase();
    if (name !== '*' && !(COMPRESSIONS as readonly string[]).includes(name)) continue;
    const q = parameters.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
    named.set(name, Math.max(named.get(name) ?? 0, q === undefined ? 1 : Number(q)));
  }
  let best: Compression | undefined;
  let bestQuality = 0;
  for (const coding of COMPRESSIONS) {
    const quality = named.get(coding) ?? named.get('*') ?? 0;
    if (quality > bestQuality) {
      best = coding;
      bestQuality = quality;
    }
  }
  return best;
}
