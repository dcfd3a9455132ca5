import { useEffect, useState } from 'preact/hooks';
import { get, messageOf } from '../api.js';
import { JsonView } from '../components/json-view.js';
import { Notice } from '../components/notice.js';
import { configSchema, formatTime, type VersionDetail } from '../config-api.js';
import type { Schema } from '../editor/schema.js';
import { href } from '../router.js';
import { useSession } from '../session.js';

function shown(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function VersionScreen(props: { version: string }) {
  const { canWrite } = useSession();
  const [detail, setDetail] = useState<VersionDetail | null>(null);
  const [schema, setSchema] = useState<Schema | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    document.title = `Version ${props.version} · Switchboard`;
    setDetail(null);
    Promise.all([
      get<VersionDetail>(`/api/v1/config?version=${encodeURIComponent(props.version)}`),
      configSchema(),
    ]).then(
      ([answer, served]) => {
        setDetail(answer.data);
        setSchema(served);
      },
      (error) => setFailure(messageOf(error)),
    );
  }, [props.version]);

  const vars = Object.entries(detail?.vars_resolved ?? {});
  return (
    <section aria-labelledby="version-title">
      <p>
        <a href={href('versions')}>← All versions</a>
      </p>
      <h1 id="version-title">Version {props.version}</h1>
      {failure && <Notice kind="error">{failure}</Notice>}
      {detail && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd>{detail.active ? <span class="badge active">active</span> : 'saved'}</dd>
            <dt>Author</dt>
            <dd>{detail.created_by ?? '—'}</dd>
            <dt>Saved</dt>
            <dd>
              <time dateTime={detail.created_at}>{formatTime(detail.created_at)}</time>
            </dd>
            <dt>Message</dt>
            <dd>{detail.message ?? '—'}</dd>
          </dl>
          <div class="actions">
            {canWrite && (
              <a class="button" href={href('edit', { from: detail.version })}>
                Edit from this version
              </a>
            )}
            {!detail.active && (
              <a class="button" href={href('diff', { to: detail.version })}>
                Diff against the active version
              </a>
            )}
          </div>
          <h2>Variables, resolved</h2>
          {vars.length === 0 ? (
            <p class="empty">This version declares no variables.</p>
          ) : (
            <table class="vars">
              <caption class="visually-hidden">Variables of version {detail.version}, secrets masked</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {vars.map(([name, value]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>
                      <code>{shown(value)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Document</h2>
          {schema && (
            <JsonView
              text={JSON.stringify(detail.config, null, 2)}
              schema={schema}
              label={`Configuration document of version ${detail.version} (read only)`}
            />
          )}
        </>
      )}
    </section>
  );
}
