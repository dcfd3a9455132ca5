import { post, type TokenAnswer } from './api.js';

/** What `GET /auth/providers` says of Microsoft Entra ID sign-in. */
export interface MsalProvider {
  client_id: string;
  tenants: string[];
  authority: string;
}

const PENDING = 'switchboard.msal-sign-in';
const PENDING_FOR_MS = 10 * 60 * 1000;

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

export const redirectUri = () => `${location.origin}/config-ui/`;

/**
 * Sends the browser to Entra ID for an id token (the implicit flow, `response_type=id_token`): the token comes
 * back in the address's fragment, which never reaches a server, so the page needs no connection to Entra ID
 * (its Content-Security-Policy allows none). `state` ties the answer to this tab; `nonce` ties the token to
 * this sign-in.
 */
export function startMsalSignIn(msal: MsalProvider): void {
  const state = randomToken();
  const nonce = randomToken();
  sessionStorage.setItem(PENDING, JSON.stringify({ state, nonce, at: Date.now() }));
  // One tenant: its own sign-in page; several: any work account, the server then checks the tenant.
  const tenant = msal.tenants.length === 1 ? msal.tenants[0] : 'organizations';
  const url = new URL(`${msal.authority}/${tenant}/oauth2/v2.0/authorize`);
  url.search = new URLSearchParams({
    client_id: msal.client_id,
    response_type: 'id_token',
    redirect_uri: redirectUri(),
    response_mode: 'fragment',
    scope: 'openid profile email',
    state,
    nonce,
    prompt: 'select_account',
  }).toString();
  location.assign(url.toString());
}

/** Whether the page was opened by Entra ID's answer (an id token or an error, with the state). */
export function isMsalAnswer(hash: string): boolean {
  const answer = new URLSearchParams(hash.replace(/^#/, ''));
  return answer.has('state') && (answer.has('id_token') || answer.has('error'));
}

function nonceOf(idToken: string): unknown {
  const payload = idToken.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replaceAll('-', '+').replaceAll('_', '/'));
    return (JSON.parse(json) as { nonce?: unknown }).nonce;
  } catch {
    return undefined;
  }
}

/**
 * Finishes a sign-in Entra ID answered: the fragment leaves the address at once (history and referrers
 * never see the token), the answer must carry this tab's state and the token this sign-in's nonce, and the
 * server then checks the token itself (`POST /auth/msal`) and answers with the session's cookies.
 */
export async function finishMsalSignIn(hash: string): Promise<TokenAnswer> {
  history.replaceState(null, '', redirectUri());
  const answer = new URLSearchParams(hash.replace(/^#/, ''));
  const stored = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  const pending = stored ? (JSON.parse(stored) as { state: string; nonce: string; at: number }) : null;
  if (!pending || pending.state !== answer.get('state') || Date.now() - pending.at > PENDING_FOR_MS) {
    throw new Error('This Microsoft sign-in was not started here, or took too long. Start it again.');
  }
  const error = answer.get('error');
  if (error) {
    const description = answer.get('error_description') ?? '';
    throw new Error(`Microsoft sign-in failed: ${error}${description ? ` (${description})` : ''}`);
  }
  const idToken = answer.get('id_token') ?? '';
  if (nonceOf(idToken) !== pending.nonce) {
    throw new Error('Microsoft answered with a token for another sign-in. Start it again.');
  }
  const signedIn = await post<TokenAnswer>(
    '/api/v1/auth/msal',
    { id_token: idToken },
    { refresh: false, announceSignedOut: false },
  );
  return signedIn.data;
}
