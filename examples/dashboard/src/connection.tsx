import type { LiveState, TransportName } from '@switchboard/client';
import { useEffect, useState } from 'preact/hooks';
import { sb } from './client.js';

const WORDS: Record<LiveState, string> = {
  connecting: 'Connecting',
  live: 'Live',
  recovering: 'Reconnecting',
  offline: 'Offline',
  'signed-out': 'Signed out',
};

/** The live connection's state, as the client reports it, and the transport it runs on. */
export function ConnectionState() {
  const [state, setState] = useState<LiveState>(sb.live.state);
  const [transport, setTransport] = useState<TransportName>(sb.live.transportName);
  useEffect(() => {
    const offState = sb.live.on('state', setState);
    const offTransport = sb.live.on('transport', setTransport);
    setState(sb.live.state);
    return () => {
      offState();
      offTransport();
    };
  }, []);
  return (
    <p class={`connection connection-${state}`} role="status" data-state={state}>
      <span class="dot" aria-hidden="true" />
      Connection: {WORDS[state]}
      {state === 'live' && (
        <span class="transport"> ({transport === 'websocket' ? 'WebSocket' : 'SSE'})</span>
      )}
    </p>
  );
}
