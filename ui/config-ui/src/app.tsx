import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import {
  announceTokens,
  csrfToken,
  get,
  type Me,
  messageOf,
  onSignedOut,
  onTokens,
  post,
  refreshSession,
} from './api.js';
import { Notice } from './components/notice.js';
import { LiveConnection, type LiveState } from './live.js';
import { finishMsalSignIn, isMsalAnswer } from './msal.js';
import { href, useRoute } from './router.js';
import { ChannelsScreen } from './screens/channels.js';
import { DiffScreen } from './screens/diff.js';
import { EditScreen } from './screens/edit.js';
import { FunctionsScreen } from './screens/functions.js';
import { PasswordScreen } from './screens/password.js';
import { SignInScreen } from './screens/sign-in.js';
import { VersionScreen } from './screens/version.js';
import { VersionsScreen } from './screens/versions.js';
import { refreshDelay, rights, Session, type SessionContext } from './session.js';

type Phase =
  | { kind: 'loading' }
  | { kind: 'signed-out'; message: string | null; failure?: string }
  | { kind: 'in'; me: Me };

const SESSION_ENDED = 'Your session has ended (signed out elsewhere, revoked or expired). Sign in again.';

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });

  const signedOut = useCallback((message: string | null) => setPhase({ kind: 'signed-out', message }), []);

  // Who is here: the session cookie (refreshed if its access token expired) or the sign-in page.
  useEffect(() => {
    // Without the CSRF cookie, which lives as long as the session's refresh token, nobody is signed in here:
    // no need to ask (and be answered 401).
    if (isMsalAnswer(location.hash)) void finishMsal();
    else if (csrfToken() === null) signedOut(null);
    else void whoIsHere();
    return onSignedOut(() =>
      setPhase((now) => (now.kind === 'in' ? { kind: 'signed-out', message: SESSION_ENDED } : now)),
    );
  }, [signedOut]);

  async function finishMsal(): Promise<void> {
    try {
      announceTokens(await finishMsalSignIn(location.hash));
      const me = await get<Me>('/api/v1/auth/me');
      setPhase({ kind: 'in', me: me.data });
    } catch (error) {
      setPhase({ kind: 'signed-out', message: null, failure: messageOf(error) });
    }
  }

  async function whoIsHere(): Promise<void> {
    await get<Me>('/api/v1/auth/me', { announceSignedOut: false }).then(
      async (answer) => {
        setPhase({ kind: 'in', me: answer.data });
        try {
          const valid = await get<{ expires_at: string }>('/api/v1/auth/validate', {
            announceSignedOut: false,
          });
          const seconds = (Date.parse(valid.data.expires_at) - Date.now()) / 1000;
          if (Number.isFinite(seconds)) scheduleRefresh(seconds);
        } catch {
          // The next request refreshes on its 401 instead.
        }
      },
      () => signedOut(null),
    );
  }

  // Silent refresh: a new access token before the current one expires, however it was obtained.
  useEffect(() => onTokens((answer) => scheduleRefresh(answer.expires_in)), []);

  if (phase.kind === 'loading') {
    return (
      <main id="main" class="centered">
        <p role="status">Loading…</p>
      </main>
    );
  }
  if (phase.kind === 'signed-out') {
    return (
      <SignInScreen
        message={phase.message}
        failure={phase.failure ?? null}
        onSignedIn={(me) => setPhase({ kind: 'in', me })}
      />
    );
  }
  if (phase.me.must_change_password) {
    return (
      <PasswordScreen
        forced
        me={phase.me}
        onChanged={(me) => setPhase({ kind: 'in', me })}
        onSignOut={() => void signOut(() => signedOut('You have signed out.'))}
      />
    );
  }
  return <SignedIn me={phase.me} onSignedOut={signedOut} onMe={(me) => setPhase({ kind: 'in', me })} />;
}

let refreshTimer: ReturnType<typeof setTimeout> | null = null;

function scheduleRefresh(seconds: number): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refreshSession().catch(() => undefined), refreshDelay(seconds));
}

async function signOut(then: () => void): Promise<void> {
  if (refreshTimer) clearTimeout(refreshTimer);
  let endSession: string | null = null;
  try {
    const answer = await post<undefined>('/api/v1/auth/logout', undefined, {
      refresh: false,
      announceSignedOut: false,
    });
    endSession = answer.headers.get('end-session-url');
  } catch {
    // Signing out always ends here: the cookies are gone or were never there.
  }
  if (endSession) {
    location.assign(endSession);
    return;
  }
  then();
}

const LIVE_LABEL: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  recovering: 'Reconnecting…',
  offline: 'Offline',
};

function SignedIn(props: { me: Me; onSignedOut: (message: string | null) => void; onMe: (me: Me) => void }) {
  const { me } = props;
  const route = useRoute();
  const live = useMemo(() => new LiveConnection((message) => props.onSignedOut(message)), []);
  const [liveState, setLiveState] = useState<LiveState>(live.state);
  useEffect(() => {
    const off = live.onState(setLiveState);
    live.start();
    return () => {
      off();
      live.stop();
    };
  }, [live]);

  const session: SessionContext = { me, live, ...rights(me) };
  const screen = route.path[0] ?? (session.canRead ? 'versions' : 'channels');
  const nav = [
    ...(session.canRead
      ? [
          { id: 'versions', label: 'Versions' },
          { id: 'edit', label: 'Editor' },
          { id: 'diff', label: 'Diff' },
        ]
      : []),
    { id: 'channels', label: 'Channels' },
    ...(session.canRead ? [{ id: 'functions', label: 'Functions' }] : []),
    { id: 'account', label: 'Password' },
  ];

  let content;
  if (!nav.some((item) => item.id === screen)) {
    content = (
      <Notice kind="error">There is no such page here, or your role ({me.role}) may not see it.</Notice>
    );
  } else if (screen === 'versions' && route.path[1]) {
    content = <VersionScreen version={route.path[1]} />;
  } else if (screen === 'versions') {
    content = <VersionsScreen />;
  } else if (screen === 'edit') {
    content = <EditScreen from={route.query.get('from')} />;
  } else if (screen === 'diff') {
    content = <DiffScreen from={route.query.get('from')} to={route.query.get('to')} />;
  } else if (screen === 'channels') {
    content = <ChannelsScreen />;
  } else if (screen === 'functions') {
    content = <FunctionsScreen />;
  } else {
    content = <PasswordScreen me={me} onChanged={props.onMe} />;
  }

  return (
    <Session.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Switchboard</span>
        <nav aria-label="Sections">
          <ul>
            {nav.map((item) => (
              <li key={item.id}>
                <a href={href(item.id)} aria-current={item.id === screen ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class={`live-state live-${liveState}`} role="status" aria-live="polite">
            <span class="visually-hidden">Live connection: </span>
            {LIVE_LABEL[liveState]}
          </span>
          <span class="user">
            {me.username} <span class="role">({me.role})</span>
          </span>
          <button type="button" onClick={() => void signOut(() => props.onSignedOut('You have signed out.'))}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {content}
      </main>
    </Session.Provider>
  );
}
