export { type DataOf, Switchboard, type SwitchboardOptions, unwrap } from './client.js';
export {
  type ErrorCategory,
  ErrorCode,
  type FieldError,
  isSwitchboardError,
  STATUS_OF_CODE,
  SwitchboardError,
} from './errors.js';
export type { ChannelStatus, LiveEvent, SubscriptionEnd } from './frames.js';
export type { paths } from './generated/openapi.js';
export {
  type ChannelHandlers,
  LiveClient,
  type LiveEvents,
  type LiveOptions,
  type LiveState,
  type LiveStats,
  type Subscription,
  type TransportName,
} from './live.js';
export {
  type MergePatch,
  Preferences,
  type PreferencesDocument,
  type PreferencesEvents,
  type PreferencesOptions,
} from './preferences.js';
export { type AuthMode, Session, type SessionEvents, type Tokens, type User } from './session.js';
export type { WebSocketConstructor, WebSocketLike } from './ws-transport.js';
