import { isSecureUrl } from '../../platform/secure-url.js';
import { upstreamFailed } from './failures.js';

/** A provider's metadata is a few kilobytes; a larger answer is refused unread. */
const MAX_METADATA_BYTES = 512 * 1024;
const TIMEOUT_MS = 5_000;

export interface ProviderMetadata {
  readonly issuer: string;
  readonly jwksUri: string;
}

/**
 * An OpenID provider's metadata document at `url`, within 5 s: its `issuer` and its `jwks_uri`, which must
 * be https (or http on a loopback address). Anything else is the provider failing: 502 code 7000.
 */
export async function fetchMetadata(url: string, provider: string): Promise<ProviderMetadata> {
  let document: unknown;
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
      headers: { accept: 'application/json' },
    });
    if (!response.ok) throw new Error(`metadata answered ${response.status}`);
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > MAX_METADATA_BYTES) throw new Error('metadata is too large');
    const text = await response.text();
    if (text.length > MAX_METADATA_BYTES) throw new Error('metadata is too large');
    document = JSON.parse(text);
  } catch (error) {
    throw upstreamFailed(provider, error);
  }
  const { issuer, jwks_uri: jwksUri } = (document ?? {}) as Record<string, unknown>;
  if (
    typeof issuer !== 'string' ||
    typeof jwksUri !== 'string' ||
    !URL.canParse(jwksUri) ||
    !isSecureUrl(new URL(jwksUri))
  ) {
    throw upstreamFailed(provider, new Error('metadata lacks an issuer or an https jwks_uri'));
  }
  return { issuer, jwksUri };
}
