import type { ChannelStatus, SubscriptionEnd } from '@switchboard/client';
import { useEffect, useState } from 'preact/hooks';
import { sb } from './client.js';
import { Sparkline } from './sparkline.js';
import { numberOf, type Widget } from './workspace.js';

const timeOf = (ts: string) => new Date(ts).toLocaleTimeString('en-GB', { hour12: false });

/**
 * One channel: its latest number, a sparkline of the last `points` values, and its producer's status. The
 * subscription lives as long as the tile; the client resumes it after a drop without gap or duplicate.
 */
export function Tile({
  widget,
  title,
  points,
  onRemove,
}: {
  widget: Widget;
  title: string;
  points: number;
  onRemove?: () => void;
}) {
  const [values, setValues] = useState<number[]>([]);
  const [latest, setLatest] = useState<{ text: string; at: string } | null>(null);
  const [status, setStatus] = useState<ChannelStatus | null>(null);
  const [end, setEnd] = useState<SubscriptionEnd | null>(null);

  useEffect(() => {
    setValues([]);
    setLatest(null);
    setStatus(null);
    setEnd(null);
    const take = (data: unknown, ts: string) => {
      const value = numberOf(data);
      setLatest({ text: value === undefined ? JSON.stringify(data) : String(value), at: timeOf(ts) });
      if (value !== undefined) setValues((old) => [...old, value].slice(-points));
    };
    const subscription = sb.live.subscribe(widget.channel, {
      snapshot: (event) => event && take(event.data, event.ts),
      event: (event) => take(event.data, event.ts),
      reset: () => setValues([]),
      status: setStatus,
      end: setEnd,
    });
    return () => subscription.close();
  }, [widget.channel, points]);

  const headingId = `tile-${widget.channel.replace(/[^a-z0-9_-]/gi, '-')}`;
  return (
    <li class="tile">
      <article aria-labelledby={headingId}>
        <h3 id={headingId}>{title}</h3>
        <p class="channel">{widget.channel}</p>
        {end ? (
          <p class="ended" role="status">
            Not available: {end.message}
          </p>
        ) : (
          <>
            <p class="value" data-testid="value">
              {latest?.text ?? '–'}
            </p>
            <Sparkline values={values} label={`${title} trend`} />
            <p class="meta">
              <span class={`status status-${status?.state ?? 'unknown'}`} data-testid="producer">
                Producer:{' '}
                {status ? (status.state === 'ok' ? 'ok' : `error: ${status.message ?? ''}`) : 'no status yet'}
              </span>
              {latest && <span class="time"> · at {latest.at}</span>}
            </p>
          </>
        )}
        {onRemove && (
          <button
            type="button"
            class="quiet remove"
            onClick={onRemove}
            aria-label={`Remove the tile ${title}`}
          >
            Remove
          </button>
        )}
      </article>
    </li>
  );
}
