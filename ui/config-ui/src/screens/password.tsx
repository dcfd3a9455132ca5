import { useEffect, useState } from 'preact/hooks';
import { ApiError, announceTokens, get, type Me, messageOf, post, type TokenAnswer } from '../api.js';
import { Notice } from '../components/notice.js';
import { TextField } from '../components/text-field.js';

export function PasswordScreen(props: {
  me: Me;
  forced?: boolean;
  onChanged: (me: Me) => void;
  onSignOut?: () => void;
}) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [failure, setFailure] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const local = props.me.auth_method === 'password';

  useEffect(() => {
    document.title = 'Password · Switchboard';
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    setDone(false);
    if (next !== again) {
      setFailure('The two new passwords differ.');
      return;
    }
    setBusy(true);
    try {
      const answer = await post<TokenAnswer>('/api/v1/auth/password', {
        current_password: current,
        new_password: next,
      });
      announceTokens(answer.data);
      const me = await get<Me>('/api/v1/auth/me');
      setCurrent('');
      setNext('');
      setAgain('');
      setDone(true);
      props.onChanged(me.data);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) setFailure('The current password is wrong.');
      else if (error instanceof ApiError && error.problem.errors.length > 0) {
        setFailure(error.problem.errors.map((e) => e.message).join(' '));
      } else setFailure(messageOf(error));
    } finally {
      setBusy(false);
    }
  };

  const body = !local ? (
    <p>You signed in with single sign-on: your password is kept by your identity provider.</p>
  ) : (
    <form onSubmit={submit} class="card narrow" aria-label="Change password">
      {props.forced && (
        <Notice kind="info">
          Your password was set by an administrator. Choose your own before you go on.
        </Notice>
      )}
      <TextField
        id="current-password"
        label="Current password"
        type="password"
        autocomplete="current-password"
        value={current}
        onInput={setCurrent}
      />
      <TextField
        id="new-password"
        label="New password"
        type="password"
        autocomplete="new-password"
        describedBy="password-rules"
        value={next}
        onInput={setNext}
      />
      <p id="password-rules" class="hint">
        At least 12 characters; not a common password, and not your username.
      </p>
      <TextField
        id="again-password"
        label="New password again"
        type="password"
        autocomplete="new-password"
        value={again}
        onInput={setAgain}
      />
      {failure && <Notice kind="error">{failure}</Notice>}
      {done && <Notice kind="success">Password changed. Your other sessions have been signed out.</Notice>}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Change password
        </button>
        {props.onSignOut && (
          <button type="button" onClick={props.onSignOut}>
            Sign out
          </button>
        )}
      </div>
    </form>
  );
  const heading = <h1>{props.forced ? 'Choose a new password' : 'Password'}</h1>;
  return props.forced ? (
    <main id="main" class="sign-in">
      {heading}
      {body}
    </main>
  ) : (
    <>
      {heading}
      {body}
    </>
  );
}
