import { defineSection, duration, integer, type SectionSettings } from '../platform/settings-spec.js';

/** Replay windows, connection caps and the pace of WebSocket and SSE connections. */
export const liveSettings = defineSection(
  {
    /** Default replay window of a channel: at most this many events… */
    historySize: {
      env: 'SWITCHBOARD_STREAM_HISTORY_SIZE',
      file: 'stream_history_size',
      default: '1000',
      ...integer(0, 1_000_000),
      doc: 'Events a channel keeps for replay unless its declaration says otherwise.',
    },
    /** …and none older than this. */
    historyMaxAgeMs: {
      env: 'SWITCHBOARD_STREAM_HISTORY_AGE',
      file: 'stream_history_age',
      default: '10m',
      ...duration('1s', '7d'),
      doc: 'Age past which events leave the replay window, unless the channel says otherwise.',
    },
    wsConnectionsPerUser: {
      env: 'SWITCHBOARD_WS_CONNECTIONS_PER_USER',
      file: 'ws_connections_per_user',
      default: '10',
      ...integer(1, 10_000),
      doc: 'WebSockets one user may have open at once, across instances; one more is closed with 4429.',
    },
    sseConnectionsPerUser: {
      env: 'SWITCHBOARD_SSE_CONNECTIONS_PER_USER',
      file: 'sse_connections_per_user',
      default: '10',
      ...integer(1, 10_000),
      doc: 'Event streams (SSE) one user may have open at once, across instances; one more is a 429 (code 5003).',
    },
    /** How long a WebSocket may stay open after its access token expired, waiting for a fresh ticket. */
    wsAuthGraceMs: {
      env: 'SWITCHBOARD_WS_AUTH_GRACE',
      file: 'ws_auth_grace',
      default: '60s',
      ...duration('1s', '1h'),
      doc: 'Time a WebSocket has, once its access token expired, to send a fresh ticket before it is closed (4403).',
    },
    /** Bytes queued for a WebSocket client before it is closed as too slow (4409). */
    wsMaxBacklogBytes: {
      env: 'SWITCHBOARD_WS_MAX_BACKLOG_BYTES',
      file: 'ws_max_backlog_bytes',
      default: '1048576',
      ...integer(1024, 1_073_741_824),
      doc: 'Bytes waiting to be sent to one WebSocket client before it is closed as too slow (4409).',
    },
    /** How often open connections re-check their session, for changes made from the CLI or elsewhere. */
    recheckMs: {
      env: 'SWITCHBOARD_STREAM_RECHECK_INTERVAL',
      file: 'stream_recheck_interval',
      default: '5s',
      ...duration('1s', '10s'),
      doc: 'How often open streams re-read their session, so changes made from the CLI or on another instance reach them.',
    },
  },
  ({ wsConnectionsPerUser, sseConnectionsPerUser, ...values }) => ({
    ...values,
    connectionsPerUser: { ws: wsConnectionsPerUser, sse: sseConnectionsPerUser },
  }),
);

export type LiveSettings = SectionSettings<typeof liveSettings>;
