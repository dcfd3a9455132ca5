import { useEffect, useState } from 'preact/hooks';
import { ApiError, announceTokens, get, type Me, messageOf, post, type TokenAnswer } from '../api.js';
import { Notice } from '../components/notice.js';
import { TextField } from '../components/text-field.js';
import { type MsalProvider, startMsalSignIn } from '../msal.js';

interface Providers {
  local: boolean;
  oidc: { display_name: string; login_url: string } | null;
  msal: MsalProvider | null;
}

export function waitText(seconds: number | null): string {
  if (seconds === null || seconds <= 0) return 'a while';
  if (seconds < 90) return `${Math.ceil(seconds)} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** What went wrong with a sign-in, in words a person can act on. */
function signInFailure(error: unknown): string {
  if (!(error instanceof ApiError)) return messageOf(error);
  const { problem } = error;
  if (problem.status === 401) return 'Wrong username or password.';
  if (problem.code === 1003) {
    return `This account is locked after too many failed sign-ins. Try again in ${waitText(problem.retryAfter)}, or ask an operator to unlock it.`;
  }
  if (problem.status === 429)
    return `Too many sign-in attempts. Try again in ${waitText(problem.retryAfter)}.`;
  if (problem.status === 422) return 'Enter a username and a password.';
  return messageOf(error);
}

function oidcHref(loginUrl: string): string {
  const url = new URL(loginUrl, location.origin);
  url.searchParams.set('return_to', '/config-ui/');
  return url.origin === location.origin ? `${url.pathname}${url.search}` : url.toString();
}

export function SignInScreen(props: {
  message: string | null;
  /** A single sign-on that came back refused. */
  failure: string | null;
  onSignedIn: (me: Me) => void;
}) {
  const [providers, setProviders] = useState<Providers | null>(null);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    get<Providers>('/api/v1/auth/providers').then(
      (answer) => setProviders(answer.data),
      () => setProviders({ local: true, oidc: null, msal: null }),
    );
    document.title = 'Sign in · Switchboard';
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    try {
      const answer = await post<TokenAnswer>(
        '/api/v1/auth/login',
        { username, password },
        { refresh: false, announceSignedOut: false },
      );
      announceTokens(answer.data);
      const me = await get<Me>('/api/v1/auth/me');
      props.onSignedIn(me.data);
    } catch (error) {
      setFailure(signInFailure(error));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>Switchboard Config UI</h1>
      {props.message && <Notice kind="info">{props.message}</Notice>}
      {props.failure && <Notice kind="error">{props.failure}</Notice>}
      <form onSubmit={submit} aria-labelledby="sign-in-title" class="card">
        <h2 id="sign-in-title">Sign in</h2>
        <TextField
          id="username"
          label="Username"
          autocomplete="username"
          value={username}
          onInput={setUsername}
        />
        <TextField
          id="password"
          label="Password"
          type="password"
          autocomplete="current-password"
          value={password}
          onInput={setPassword}
        />
        {failure && <Notice kind="error">{failure}</Notice>}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {(providers?.oidc || providers?.msal) && (
        <div class="card sso">
          <h2>Single sign-on</h2>
          <div class="actions">
            {providers.oidc && (
              <a class="button" href={oidcHref(providers.oidc.login_url)}>
                Sign in with {providers.oidc.display_name}
              </a>
            )}
            {providers.msal && (
              <button type="button" onClick={() => providers.msal && startMsalSignIn(providers.msal)}>
                Sign in with Microsoft
              </button>
            )}
          </div>
        </div>
      )}
    </main>
  );
}
