export {
  TransactionLayer,
  defaultReplyTarget,
  serverKey,
  type TransactionLayerOptions,
  type ServerOptions,
  type ReceiveResult,
} from './layer.js';
export { ServerTransaction, type ServerState } from './server.js';
export {
  ClientTransaction,
  buildHopRequest,
  type ClientState,
  type ClientHandlers,
  type ClientOptions,
  type CancelOptions,
} from './client.js';
export { FakeScheduler, realScheduler, type TimerScheduler, type TimerHandle } from './timer.js';
export {
  TransactionStateError,
  resolveTimers,
  type TransactionTimers,
  type TransactionStats,
  type SendFn,
} from './types.js';
