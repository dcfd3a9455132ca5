import type { PreferencesDocument } from '@switchboard/client';
import { unwrap } from '@switchboard/client';
import { useState } from 'preact/hooks';
import { messageOf, sb } from './client.js';

type Grant = NonNullable<PreferencesDocument['shared_workspace_grants']>[string][number];

/**
 * Who one of your workspaces is shared with, and a form to share it with one more user. The server keeps
 * grants apart from the document and tells every grantee's open sessions (docs/workspaces.md#sharing).
 */
export function Share({ name, grants }: { name: string; grants: Grant[] }) {
  const [username, setUsername] = useState('');
  const [access, setAccess] = useState<'view' | 'edit'>('view');
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);

  const save = async (next: Grant[], done: string) => {
    setMessage(null);
    try {
      await unwrap(
        sb.api.PUT('/api/v1/workspaces/{name}/grants', {
          params: { path: { name } },
          body: next.map((g) => ({
            principal_type: g.principal_type as 'user' | 'role' | 'group',
            principal: g.principal,
            access: g.access as 'view' | 'edit',
          })),
        }),
      );
      await sb.preferences.load();
      setMessage({ text: done, error: false });
      return true;
    } catch (error) {
      setMessage({ text: messageOf(error), error: true });
      return false;
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const who = username.trim();
    if (!who) return;
    const others = grants.filter((g) => !(g.principal_type === 'user' && g.principal === who));
    if (await save([...others, { principal_type: 'user', principal: who, access }], `Shared with ${who}.`))
      setUsername('');
  };

  return (
    <section class="share" aria-labelledby="share-heading">
      <h2 id="share-heading">Share “{name}”</h2>
      {grants.length === 0 ? (
        <p>Not shared yet.</p>
      ) : (
        <ul class="grants">
          {grants.map((g) => (
            <li key={`${g.principal_type}:${g.principal}`}>
              {g.principal_type} <strong>{g.principal}</strong>:{' '}
              {g.access === 'edit' ? 'can edit' : 'can view'}{' '}
              <button
                type="button"
                class="quiet"
                aria-label={`Stop sharing with ${g.principal}`}
                onClick={() =>
                  save(
                    grants.filter((other) => other !== g),
                    `No longer shared with ${g.principal}.`,
                  )
                }
              >
                Stop sharing
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="row" onSubmit={submit}>
        <label for="share-user">Username</label>
        <input
          id="share-user"
          value={username}
          required
          autocomplete="off"
          onInput={(e) => setUsername(e.currentTarget.value)}
        />
        <label for="share-access">Access</label>
        <select
          id="share-access"
          value={access}
          onChange={(e) => setAccess(e.currentTarget.value as 'view' | 'edit')}
        >
          <option value="view">can view</option>
          <option value="edit">can edit</option>
        </select>
        <button type="submit">Share</button>
      </form>
      {message && (
        <p class={message.error ? 'error' : 'done'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
    </section>
  );
}
