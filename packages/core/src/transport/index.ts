export { TransportLayer } from './transport.js';
export { StreamFramer, type FramerEvent, type StreamFramerOptions } from './framer.js';
export { canonicalIp, formatAddr } from './address.js';
export type {
  Advertise,
  ConnectionInfo,
  Endpoint,
  ListenSpec,
  Proto,
  ReceiveInfo,
  SendTarget,
  SocketInfo,
  TransportOptions,
  TransportStats,
} from './types.js';
/** Alias used by the CLI (`listen=` lines resolved into transport sockets). */
export type { ListenSpec as TransportListenSpec } from './types.js';
