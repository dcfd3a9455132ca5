import { useEffect, useState } from 'preact/hooks';
import { get, messageOf } from '../api.js';
import { Notice } from '../components/notice.js';
import { formatTime, type StreamInfo } from '../config-api.js';
import type { Frame } from '../live.js';
import { useSession } from '../session.js';

const KEPT = 5;

interface Seen {
  status: { state: 'ok' | 'error'; message?: string; at?: string } | null;
  events: { id: string; ts: string | null; data: unknown }[];
  gone: boolean;
  lastSuccess: string | null;
}

const nothingSeen: Seen = { status: null, events: [], gone: false, lastSuccess: null };

function preview(data: unknown): string {
  const text = JSON.stringify(data);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** One stream: its producer's state and its latest events, as they arrive on the page's connection. */
function StreamCard(props: { stream: StreamInfo }) {
  const { live } = useSession();
  const [seen, setSeen] = useState<Seen>(nothingSeen);
  const { name } = props.stream;

  useEffect(() => {
    setSeen(nothingSeen);
    return live.subscribe(name, (frame: Frame) => {
      setSeen((now) => {
        if (frame.type === 'status' && frame.state) {
          const lastSuccess = frame.state === 'ok' ? (frame.at ?? now.lastSuccess) : now.lastSuccess;
          return {
            ...now,
            status: { state: frame.state, message: frame.message, at: frame.at },
            lastSuccess,
          };
        }
        if (frame.type === 'reset') return { ...now, events: [] };
        if (frame.type === 'unavailable') return { ...now, gone: true };
        if ((frame.type === 'event' || frame.type === 'snapshot') && typeof frame.id === 'string') {
          if (now.events.some((e) => e.id === frame.id)) return now;
          const events = [{ id: frame.id, ts: frame.ts ?? null, data: frame.data }, ...now.events].slice(
            0,
            KEPT,
          );
          const lastSuccess =
            frame.ts && (!now.lastSuccess || frame.ts > now.lastSuccess) ? frame.ts : now.lastSuccess;
          return { ...now, events, lastSuccess };
        }
        return now;
      });
    });
  }, [live, name]);

  const title = props.stream.meta.title ?? name;
  const status = seen.status;
  return (
    <article class="stream" aria-labelledby={`stream-${name}`}>
      <header>
        <h2 id={`stream-${name}`}>{title}</h2>
        {title !== name && <code>{name}</code>}
        <span class={`badge ${status?.state === 'error' ? 'error' : status ? 'active' : 'unknown'}`}>
          {status ? status.state : 'no status yet'}
        </span>
      </header>
      {props.stream.meta.description && <p>{props.stream.meta.description}</p>}
      {seen.gone && <Notice kind="info">This channel was removed by the active configuration.</Notice>}
      {status?.state === 'error' && (
        <p class="producer-error" role="alert">
          Producer error{status.at ? ` since ${formatTime(status.at)}` : ''}: {status.message ?? 'no message'}
        </p>
      )}
      <p class="hint">Last success: {seen.lastSuccess ? formatTime(seen.lastSuccess) : 'none seen'}</p>
      <h3 class="visually-hidden">Latest events of {name}</h3>
      {seen.events.length === 0 ? (
        <p class="empty">No event yet.</p>
      ) : (
        <ol class="events" aria-live="polite" aria-label={`Latest events of ${name}`}>
          {seen.events.map((event) => (
            <li key={event.id}>
              <time dateTime={event.ts ?? undefined}>{formatTime(event.ts)}</time>{' '}
              <code>{preview(event.data)}</code>
            </li>
          ))}
        </ol>
      )}
    </article>
  );
}

export function ChannelsScreen() {
  const { live } = useSession();
  const [streams, setStreams] = useState<StreamInfo[] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    document.title = 'Channels · Switchboard';
    const load = () =>
      get<StreamInfo[]>('/api/v1/streams').then(
        // The built-in channels (your own, the configuration's) carry notices, not a producer's data.
        (answer) => setStreams(answer.data.filter((stream) => stream.kind === 'stream')),
        (error) => setFailure(messageOf(error)),
      );
    void load();
    // A new active version may add or remove streams.
    return live.subscribe('config', (frame) => {
      if (frame.type === 'event') void load();
    });
  }, [live]);

  return (
    <section aria-labelledby="channels-title">
      <h1 id="channels-title">Live channels</h1>
      {failure && <Notice kind="error">{failure}</Notice>}
      {streams && streams.length === 0 && <p class="empty">No stream you may follow is declared.</p>}
      <div class="streams">
        {streams?.map((stream) => (
          <StreamCard key={stream.name} stream={stream} />
        ))}
      </div>
    </section>
  );
}
