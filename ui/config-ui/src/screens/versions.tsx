import { useCallback, useEffect, useState } from 'preact/hooks';
import { del, get, messageOf, post } from '../api.js';
import { ConfirmDialog } from '../components/confirm.js';
import { Notice } from '../components/notice.js';
import {
  compareVersions,
  formatTime,
  type VersionList,
  type VersionRow,
  versionPath,
} from '../config-api.js';
import { href } from '../router.js';
import { useSession } from '../session.js';

type Pending = { action: 'activate' | 'delete'; version: string } | null;

/** Loads the version list and keeps it current: any activation, by anyone, arrives on the `config` channel. */
export function useVersionList(): { list: VersionList | null; failure: string | null; reload: () => void } {
  const { live } = useSession();
  const [list, setList] = useState<VersionList | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const reload = useCallback(() => {
    get<VersionList>('/api/v1/config/versions').then(
      (answer) => {
        setList(answer.data);
        setFailure(null);
      },
      (error) => setFailure(messageOf(error)),
    );
  }, []);
  useEffect(() => {
    reload();
    return live.subscribe('config', (frame) => {
      if (frame.type === 'event') reload();
    });
  }, [reload, live]);
  return { list, failure, reload };
}

export function Badges(props: { row: VersionRow; list: VersionList }) {
  const { row, list } = props;
  return (
    <span class="badges">
      {row.active && <span class="badge active">active</span>}
      {list.loaded === row.version && <span class="badge loaded">loaded</span>}
      {list.recovery && list.recovery_version === row.version && <span class="badge recovery">recovery</span>}
      {list.last_good === row.version && !row.active && <span class="badge good">last good</span>}
    </span>
  );
}

export function VersionsScreen() {
  const { canWrite } = useSession();
  const { list, failure, reload } = useVersionList();
  const [pending, setPending] = useState<Pending>(null);
  const [outcome, setOutcome] = useState<{ kind: 'error' | 'success'; text: string } | null>(null);

  useEffect(() => {
    document.title = 'Versions · Switchboard';
  }, []);

  const run = async () => {
    if (!pending) return;
    const { action, version } = pending;
    setPending(null);
    try {
      if (action === 'activate') await post(`${versionPath(version)}/activate`);
      else await del(versionPath(version));
      setOutcome({
        kind: 'success',
        text: action === 'activate' ? `Version ${version} is active.` : `Version ${version} was deleted.`,
      });
    } catch (error) {
      setOutcome({ kind: 'error', text: `Could not ${action} version ${version}: ${messageOf(error)}` });
    }
    reload();
  };

  return (
    <section aria-labelledby="versions-title">
      <div class="title-row">
        <h1 id="versions-title">Configuration versions</h1>
        {canWrite && (
          <a class="button primary" href={href('edit')}>
            New version
          </a>
        )}
      </div>
      {failure && <Notice kind="error">{failure}</Notice>}
      {outcome && <Notice kind={outcome.kind}>{outcome.text}</Notice>}
      {list?.recovery && (
        <Notice kind="error">
          Recovery: version {list.recovery_version ?? '?'} could not be loaded (
          {list.recovery_reason ?? 'no reason given'}). Version {list.loaded ?? 'none'} keeps running.
        </Notice>
      )}
      {list && list.versions.length === 0 && <p class="empty">No version has been saved yet.</p>}
      {list && list.versions.length > 0 && (
        <div class="table-scroll">
          <table class="versions">
            <caption class="visually-hidden">Saved versions, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">State</th>
                <th scope="col">Author</th>
                <th scope="col">Saved</th>
                <th scope="col">Message</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.versions.map((row) => {
                const older = list.active !== null && compareVersions(row.version, list.active) < 0;
                return (
                  <tr key={row.version} class={row.active ? 'is-active' : undefined}>
                    <th scope="row">
                      <a href={href(`versions/${encodeURIComponent(row.version)}`)}>{row.version}</a>
                    </th>
                    <td>
                      <Badges row={row} list={list} />
                    </td>
                    <td>{row.created_by ?? '—'}</td>
                    <td>
                      <time dateTime={row.created_at}>{formatTime(row.created_at)}</time>
                    </td>
                    <td class="message">{row.message ?? ''}</td>
                    <td class="actions">
                      {!row.active && (
                        <a
                          class="button small"
                          href={href('diff', { from: list.active ?? undefined, to: row.version })}
                          aria-label={`Diff ${row.version} against the active version`}
                        >
                          Diff
                        </a>
                      )}
                      {canWrite && !row.active && (
                        <button
                          type="button"
                          class="small"
                          aria-label={`${older ? 'Roll back to' : 'Activate'} version ${row.version}`}
                          onClick={() => setPending({ action: 'activate', version: row.version })}
                        >
                          {older ? 'Roll back' : 'Activate'}
                        </button>
                      )}
                      {canWrite &&
                        (row.active ? (
                          <span class="hint" id={`why-${row.version}`}>
                            The active version cannot be deleted: activate another first.
                          </span>
                        ) : (
                          <button
                            type="button"
                            class="small danger"
                            aria-label={`Delete version ${row.version}`}
                            onClick={() => setPending({ action: 'delete', version: row.version })}
                          >
                            Delete
                          </button>
                        ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <ConfirmDialog
        open={pending !== null}
        title={
          pending?.action === 'delete'
            ? `Delete version ${pending.version}?`
            : `Activate version ${pending?.version ?? ''}?`
        }
        confirmLabel={pending?.action === 'delete' ? 'Delete' : 'Activate'}
        danger={pending?.action === 'delete'}
        onConfirm={() => void run()}
        onCancel={() => setPending(null)}
      >
        {pending?.action === 'delete' ? (
          <p>The version is removed for good. Dashboards are not affected: it is not the active one.</p>
        ) : (
          <p>
            Every stream is rebuilt from this version and swapped in; subscribers stay connected. If it cannot
            load, the running version stays.
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}
