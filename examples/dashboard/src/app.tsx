import type { User } from '@switchboard/client';
import { useEffect, useState } from 'preact/hooks';
import { sb } from './client.js';
import { Dashboard } from './dashboard.js';
import { SignIn } from './sign-in.js';

/** Signed in or not: an existing session (the cookies) is picked up first, then the sign-in form if none. */
export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [ended, setEnded] = useState<string | null>(null);

  useEffect(() => {
    sb.me().then(setUser, () => setUser(null));
    return sb.onSignedOut((error) => {
      // The next person to sign in on this page must not see this one's workspaces, even for a moment.
      sb.preferences.unwatch();
      sb.preferences.value = null;
      sb.preferences.etag = null;
      setEnded(error ? 'Your session ended; sign in again.' : null);
      setUser(null);
    });
  }, []);

  if (user === undefined) return <p class="loading">Loading…</p>;
  if (user === null)
    return (
      <SignIn
        notice={ended}
        onSignedIn={(signedIn) => {
          setEnded(null);
          setUser(signedIn);
        }}
      />
    );
  return <Dashboard user={user} />;
}
