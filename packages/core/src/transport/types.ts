import type { Logger } from '../log.js';

export type Proto = 'udp' | 'tcp';

export interface Advertise {
  address: string;
  port?: number;
}

export interface ListenSpec {
  proto: Proto;
  /** A literal IP: '127.0.0.1', '::1', '0.0.0.0', '::' (no brackets, no host names). */
  address: string;
  /** 0 = ephemeral (tests); the bound port is then visible in `TransportLayer.sockets`. */
  port: number;
  /** Address/port to put in Via/Record-Route instead of the bound one (NAT, Kamailio's `advertise`). */
  advertise?: Advertise;
}

export interface Endpoint {
  /** IPv6 without brackets. */
  address: string;
  port: number;
  family: 4 | 6;
}

export interface ReceiveInfo {
  proto: Proto;
  local: Endpoint;
  remote: Endpoint;
  /**
   * The listen socket the message belongs to. For an outbound TCP connection
   * (opened by send()) this is the TCP listen socket it was opened on behalf of.
   */
  socketId: number;
  /** TCP only: the connection the message arrived on. */
  connectionId?: number;
}

export interface SendTarget {
  proto: Proto;
  /** A literal IP (IPv6 without brackets). Name resolution is the caller's job. */
  address: string;
  port: number;
  /** TCP: prefer this connection while it is still open. */
  connectionId?: number;
  /**
   * Prefer this listen socket (Kamailio's force_send_socket). UDP: the datagram
   * leaves from it; TCP: a new connection is opened from its address. Ignored
   * if it is not a socket of the target's proto and family.
   */
  socketId?: number;
}

export interface SocketInfo {
  readonly id: number;
  readonly proto: Proto;
  /** Actual bound address/port (ephemeral port resolved). */
  readonly local: Endpoint;
  readonly advertise?: Advertise;
}

export interface ConnectionInfo {
  readonly id: number;
  readonly socketId: number;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** true when opened by send(), false when accepted. */
  readonly outbound: boolean;
}

export interface TransportStats {
  udpReceived: number;
  udpSent: number;
  /** CR/LF-only datagrams ignored. */
  udpKeepalives: number;
  tcpReceived: number;
  tcpSent: number;
  /** Currently open (or connecting) TCP connections. */
  tcpConnections: number;
  tcpAccepted: number;
  tcpConnected: number;
  /** Inbound connections destroyed because tcpMaxConnections was reached. */
  tcpRefused: number;
  /** Connections closed by the idle sweep. */
  tcpIdleClosed: number;
  droppedOversize: number;
  framingErrors: number;
  keepalivesAnswered: number;
  sendErrors: number;
}

export interface TransportOptions {
  logger?: Logger;
  /** One complete SIP message (for TCP: exactly the framed bytes, start line .. end of body). */
  onMessage: (data: Buffer, info: ReceiveInfo) => void;
  /** Default 65535. Larger UDP datagrams are dropped; a larger TCP message closes the connection. */
  maxMessageSize?: number;
  /** Idle TCP connections are closed after this. Default 120_000 (Kamailio's tcp_connection_lifetime). */
  tcpConnectionLifetimeMs?: number;
  /** Default 2048. Inbound connections beyond are destroyed at accept. */
  tcpMaxConnections?: number;
  /** Default 10_000. */
  tcpConnectTimeoutMs?: number;
  /**
   * A connection whose queued writes make no progress for this long is closed
   * and the pending sends reject. Default 10_000 (Kamailio's tcp_send_timeout); 0 disables.
   */
  tcpSendTimeoutMs?: number;
}
