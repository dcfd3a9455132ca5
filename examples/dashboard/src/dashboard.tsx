import { type PreferencesDocument, type User, unwrap } from '@switchboard/client';
import { useEffect, useState } from 'preact/hooks';
import { messageOf, sb } from './client.js';
import { ConnectionState } from './connection.js';
import { Share } from './share.js';
import { Tile } from './tile.js';
import { choicesOf, currentOf, DEFAULT_POINTS, type Widget, type WorkspaceChoice } from './workspace.js';

interface Channel {
  name: string;
  title: string;
}

/** The channels this user may follow (declared streams only: `user:` and `config` are not for tiles). */
async function channelsOf(): Promise<Channel[]> {
  const streams = await unwrap(sb.api.GET('/api/v1/streams'));
  return streams
    .filter((s) => s.kind === 'stream')
    .map((s) => ({ name: s.name, title: typeof s.meta.title === 'string' ? s.meta.title : s.name }));
}

/**
 * A workspace's tiles, kept in the preferences document. Every change, made here or in another browser
 * (the owner's, or a grantee's with edit access), comes back as a `preferences.updated` notice that the
 * client turns into a fresh read, so every open session shows the same tiles.
 */
export function Dashboard({ user }: { user: User }) {
  const [document, setDocument] = useState<PreferencesDocument | null>(sb.preferences.value);
  const [channels, setChannels] = useState<Channel[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [newName, setNewName] = useState('');
  const [adding, setAdding] = useState('');

  useEffect(() => {
    const off = sb.preferences.on('change', setDocument);
    sb.preferences.watch().then(setDocument, (error) => setProblem(messageOf(error)));
    channelsOf().then(setChannels, (error) => setProblem(messageOf(error)));
    return off;
  }, [user.id]);

  const choices = choicesOf(document);
  const current = currentOf(choices, selected ?? document?.currentWorkspace);
  const titleOf = (widget: Widget) =>
    widget.title ?? channels.find((c) => c.name === widget.channel)?.title ?? widget.channel;
  const canEdit = current !== undefined && current.access !== 'view' && user.role !== 'viewer';

  const attempt = async (work: () => Promise<unknown>) => {
    setProblem(null);
    try {
      await work();
    } catch (error) {
      setProblem(messageOf(error));
    }
  };

  const choose = (key: string) =>
    attempt(async () => {
      setSelected(key);
      await unwrap(sb.api.PUT('/api/v1/workspaces/current', { body: { name: key } }));
    });

  const create = (event: Event) => {
    event.preventDefault();
    const name = newName.trim();
    if (!name) return;
    void attempt(async () => {
      const widgets = channels.slice(0, 4).map((c) => ({ channel: c.name }));
      await unwrap(
        sb.api.PUT('/api/v1/workspaces/{name}', {
          params: { path: { name }, query: { make_current: true } },
          body: { widgets, settings: { points: DEFAULT_POINTS } },
        }),
      );
      setSelected(name);
      await sb.preferences.load();
    });
  };

  /** Replaces the tiles: a merge patch of the workspace, so its other keys (settings) stay as they are. */
  const saveTiles = (choice: WorkspaceChoice, widgets: Widget[]) =>
    attempt(async () => {
      if (choice.owner === null) {
        await sb.preferences.patch({ workspaces: { [choice.name]: { widgets } } });
        return;
      }
      await unwrap(
        sb.api.PATCH('/api/v1/shared/{owner}/{name}', {
          params: {
            path: { owner: choice.owner, name: choice.name },
            ...(choice.etag && { header: { 'if-match': choice.etag } }),
          },
          body: { widgets },
        }),
      );
      await sb.preferences.load();
    });

  const addTile = (event: Event) => {
    event.preventDefault();
    const channel =
      adding || channels.find((c) => !current?.dashboard.widgets.some((w) => w.channel === c.name))?.name;
    if (!current || !channel) return;
    if (current.dashboard.widgets.some((w) => w.channel === channel)) {
      setProblem(`${channel} has a tile already.`);
      return;
    }
    void saveTiles(current, [...current.dashboard.widgets, { channel }]);
  };

  return (
    <>
      <header class="top">
        <h1>Switchboard demo</h1>
        <ConnectionState />
        <p class="who">
          Signed in as <strong>{user.username}</strong> ({user.role})
        </p>
        <button type="button" onClick={() => void sb.signOut()}>
          Sign out
        </button>
      </header>
      <main>
        <div class="toolbar">
          {choices.length > 0 && (
            <div class="row">
              <label for="workspace">Workspace</label>
              <select
                id="workspace"
                value={current?.key}
                onChange={(e) => void choose(e.currentTarget.value)}
              >
                {choices.map((choice) => (
                  <option key={choice.key} value={choice.key}>
                    {choice.owner
                      ? `${choice.key} (shared, ${choice.access === 'edit' ? 'can edit' : 'view only'})`
                      : choice.key}
                  </option>
                ))}
              </select>
            </div>
          )}
          {user.role !== 'viewer' && (
            <form class="row" onSubmit={create}>
              <label for="new-workspace">New workspace</label>
              <input
                id="new-workspace"
                value={newName}
                required
                onInput={(e) => setNewName(e.currentTarget.value)}
              />
              <button type="submit">Create</button>
            </form>
          )}
        </div>
        {problem && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
        {document === null ? (
          <p>Loading your workspaces…</p>
        ) : current === undefined ? (
          <p>
            {user.role === 'viewer'
              ? 'No workspace is shared with you yet.'
              : 'You have no workspace yet: create one, and it starts with a tile for each channel.'}
          </p>
        ) : (
          <section aria-labelledby="workspace-heading">
            <h2 id="workspace-heading">{current.name}</h2>
            <p class="about">
              {current.owner === null
                ? 'Your workspace.'
                : `Shared with you by ${current.owner}; you ${current.access === 'edit' ? 'can edit it' : 'can view it'}.`}{' '}
              Tiles: {current.dashboard.widgets.length}.
            </p>
            {current.dashboard.widgets.length === 0 ? (
              <p>No tiles yet.</p>
            ) : (
              <ul class="tiles">
                {current.dashboard.widgets.map((widget, index) => (
                  <Tile
                    key={widget.channel}
                    widget={widget}
                    title={titleOf(widget)}
                    points={current.dashboard.settings.points}
                    {...(canEdit && {
                      onRemove: () =>
                        void saveTiles(
                          current,
                          current.dashboard.widgets.filter((_, i) => i !== index),
                        ),
                    })}
                  />
                ))}
              </ul>
            )}
            {canEdit && channels.length > 0 && (
              <form class="row add" onSubmit={addTile}>
                <label for="add-channel">Channel</label>
                <select id="add-channel" value={adding} onChange={(e) => setAdding(e.currentTarget.value)}>
                  <option value="">(the next one not shown)</option>
                  {channels.map((c) => (
                    <option key={c.name} value={c.name}>
                      {c.title} ({c.name})
                    </option>
                  ))}
                </select>
                <button type="submit">Add tile</button>
              </form>
            )}
            {current.owner === null && user.role !== 'viewer' && (
              <Share name={current.name} grants={document.shared_workspace_grants?.[current.name] ?? []} />
            )}
          </section>
        )}
      </main>
    </>
  );
}
