/**
 * The transport layer: UDP and TCP listen sockets, TCP connections (accepted and
 * opened by send()), stream framing and RFC 5626 CRLF keep-alives.
 *
 * It hands complete messages up through `onMessage` and sends bytes it is given;
 * it never parses SIP beyond what framing needs (see framer.ts). Everything that
 * can fail on a socket is turned into a log line, a counter or a rejected promise:
 * nothing here may throw into the event loop.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { ErrorCodes, KsrError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { canonicalIp, formatAddr, isLoopback, isUnspecified } from './address.js';
import { StreamFramer } from './framer.js';
import type {
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

const CRLF = Buffer.from('\r\n');
const UDP_RECV_BUFFER = 4 * 1024 * 1024;
const CLOSE_GRACE_MS = 1000;

interface UdpListener {
  kind: 'udp';
  info: SocketInfo;
  family: 4 | 6;
  sock: dgram.Socket;
}

interface TcpListener {
  kind: 'tcp';
  info: SocketInfo;
  family: 4 | 6;
  server: net.Server;
}

type Listener = UdpListener | TcpListener;

class Connection {
  /** Set once connected (immediately for accepted connections). */
  info: ReceiveInfo | null = null;
  local: Endpoint | null = null;
  connected: boolean;
  closed = false;
  lastActivity = Date.now();
  pendingWrites = 0;
  writeProgressAt = 0;
  lastError: Error | null = null;
  /** Settle functions of writes not yet completed; failed when the connection goes away. */
  readonly writeWaiters = new Set<(err: Error | null) => void>();
  ready: Promise<void> = Promise.resolve();
  readonly framer: StreamFramer;

  constructor(
    readonly id: number,
    readonly socket: net.Socket,
    readonly socketId: number,
    readonly remote: Endpoint,
    readonly key: string,
    readonly outbound: boolean,
    maxMessageSize: number,
  ) {
    this.connected = !outbound;
    this.framer = new StreamFramer({ maxMessageSize });
  }

  setLocal(local: Endpoint): void {
    this.local = local;
    this.info = Object.freeze({ proto: 'tcp' as const, local, remote: this.remote, socketId: this.socketId, connectionId: this.id });
  }

  get usable(): boolean {
    return !this.closed && !this.socket.destroyed && !this.socket.writableEnded;
  }

  get peer(): string {
    return formatAddr('tcp', this.remote.address, this.remote.port);
  }
}

function endpoint(address: string, port: number, family: 4 | 6): Endpoint {
  return Object.freeze({ address, port, family });
}

function keyOf(address: string, port: number): string {
  return `${address}|${port}`;
}

function isCrlfOnly(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}

function errText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

function positiveInt(name: string, v: number | undefined, def: number, allowZero = false): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < 0 || (v === 0 && !allowZero)) throw new RangeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
  return v;
}

export class TransportLayer {
  private readonly log: Logger;
  private readonly onMessage: TransportOptions['onMessage'];
  private readonly maxMessageSize: number;
  private readonly lifetimeMs: number;
  private readonly maxConnections: number;
  private readonly connectTimeoutMs: number;
  private readonly sendTimeoutMs: number;

  private readonly listeners: Listener[] = [];
  private readonly socketList: SocketInfo[] = [];
  private readonly conns = new Map<number, Connection>();
  private readonly byKey = new Map<string, Connection[]>();
  private nextSocketId = 1;
  private nextConnId = 1;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private readonly lastWarn = new Map<string, { at: number; suppressed: number }>();

  private readonly st: TransportStats = {
    udpReceived: 0,
    udpSent: 0,
    udpKeepalives: 0,
    tcpReceived: 0,
    tcpSent: 0,
    tcpConnections: 0,
    tcpAccepted: 0,
    tcpConnected: 0,
    tcpRefused: 0,
    tcpIdleClosed: 0,
    droppedOversize: 0,
    framingErrors: 0,
    keepalivesAnswered: 0,
    sendErrors: 0,
  };

  constructor(opts: TransportOptions) {
    if (typeof opts?.onMessage !== 'function') throw new TypeError('TransportOptions.onMessage is required');
    this.log = (opts.logger ?? silentLogger).child({ mod: 'transport' });
    this.onMessage = opts.onMessage;
    this.maxMessageSize = positiveInt('maxMessageSize', opts.maxMessageSize, 65535);
    this.lifetimeMs = positiveInt('tcpConnectionLifetimeMs', opts.tcpConnectionLifetimeMs, 120_000);
    this.maxConnections = positiveInt('tcpMaxConnections', opts.tcpMaxConnections, 2048);
    this.connectTimeoutMs = positiveInt('tcpConnectTimeoutMs', opts.tcpConnectTimeoutMs, 10_000);
    this.sendTimeoutMs = positiveInt('tcpSendTimeoutMs', opts.tcpSendTimeoutMs, 10_000, true);
  }

  /** Listen sockets opened so far, with the ports actually bound. */
  get sockets(): ReadonlyArray<SocketInfo> {
    return this.socketList;
  }

  /** Live counters (the same object is updated in place). */
  get stats(): Readonly<TransportStats> {
    return this.st;
  }

  // ---------------------------------------------------------------- listen

  /**
   * Open every spec, in order. If one fails, the ones this call opened are
   * closed again and a KsrError(LISTEN) naming proto:address:port is thrown.
   */
  async listen(specs: ListenSpec[]): Promise<void> {
    if (this.closing) throw new KsrError(ErrorCodes.LISTEN, 'cannot listen: transport layer is closed');
    const opened: Listener[] = [];
    try {
      for (const spec of specs) {
        const l = await this.open(spec);
        opened.push(l);
        this.listeners.push(l);
        this.socketList.push(l.info);
        if (this.closing) throw new KsrError(ErrorCodes.LISTEN, 'cannot listen: transport layer closed meanwhile');
      }
    } catch (err) {
      for (const l of opened) {
        const i = this.listeners.indexOf(l);
        if (i >= 0) this.listeners.splice(i, 1);
        const j = this.socketList.indexOf(l.info);
        if (j >= 0) this.socketList.splice(j, 1);
      }
      await Promise.all(opened.map((l) => this.closeListener(l)));
      throw err;
    }
    for (const l of opened) {
      this.log.debug({ socket: l.info.id, listen: formatAddr(l.kind, l.info.local.address, l.info.local.port) }, 'listening');
    }
  }

  private async open(spec: ListenSpec): Promise<Listener> {
    const where = formatAddr(spec?.proto ?? '?', spec?.address ?? '?', spec?.port ?? 0);
    const fail = (reason: string, cause?: unknown): KsrError =>
      new KsrError(ErrorCodes.LISTEN, `cannot listen on ${where}: ${reason}`, cause === undefined ? undefined : { cause });
    if (spec.proto !== 'udp' && spec.proto !== 'tcp') throw fail(`unsupported protocol "${String(spec.proto)}"`);
    const ip = canonicalIp(spec.address);
    if (!ip) throw fail('not a literal IP address');
    if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535) throw fail('invalid port');
    const id = this.nextSocketId++;
    try {
      if (spec.proto === 'udp') return await this.openUdp(id, ip.address, ip.family, spec);
      return await this.openTcp(id, ip.address, ip.family, spec);
    } catch (err) {
      throw fail(errText(err), err);
    }
  }

  private makeInfo(id: number, proto: Proto, local: Endpoint, spec: ListenSpec): SocketInfo {
    const info: SocketInfo = spec.advertise
      ? { id, proto, local, advertise: Object.freeze({ ...spec.advertise }) }
      : { id, proto, local };
    return Object.freeze(info);
  }

  private openUdp(id: number, address: string, family: 4 | 6, spec: ListenSpec): Promise<UdpListener> {
    return new Promise<UdpListener>((resolve, reject) => {
      const sock = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
      const onError = (err: Error): void => {
        sock.removeListener('listening', onListening);
        try {
          sock.close();
        } catch {
          /* not running */
        }
        reject(err);
      };
      const onListening = (): void => {
        sock.removeListener('error', onError);
        try {
          sock.setRecvBufferSize(UDP_RECV_BUFFER);
        } catch {
          /* capped by the OS or not permitted: keep the default */
        }
        const a = sock.address();
        const l: UdpListener = { kind: 'udp', family, sock, info: this.makeInfo(id, 'udp', endpoint(a.address, a.port, family), spec) };
        sock.on('error', (err) => this.warnLimited(`udp-err-${id}`, { socket: id, err: errText(err) }, 'udp socket error'));
        sock.on('message', (msg, rinfo) => this.onDatagram(l, msg, rinfo));
        resolve(l);
      };
      sock.once('error', onError);
      sock.once('listening', onListening);
      sock.bind({ address, port: spec.port, exclusive: true });
    });
  }

  private openTcp(id: number, address: string, family: 4 | 6, spec: ListenSpec): Promise<TcpListener> {
    return new Promise<TcpListener>((resolve, reject) => {
      const server = net.createServer({ noDelay: true });
      const onError = (err: Error): void => {
        server.close(() => undefined);
        reject(err);
      };
      server.once('error', onError);
      server.listen({ host: address, port: spec.port, ipv6Only: family === 6, exclusive: true }, () => {
        server.removeListener('error', onError);
        const a = server.address() as net.AddressInfo;
        const l: TcpListener = { kind: 'tcp', family, server, info: this.makeInfo(id, 'tcp', endpoint(a.address, a.port, family), spec) };
        server.on('error', (err) => this.warnLimited(`tcp-srv-err-${id}`, { socket: id, err: errText(err) }, 'tcp server error'));
        server.on('connection', (sock) => this.accept(l, sock));
        resolve(l);
      });
    });
  }

  // ---------------------------------------------------------------- receive

  private onDatagram(l: UdpListener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length > this.maxMessageSize) {
      this.st.droppedOversize++;
      this.warnLimited(
        'udp-oversize',
        { peer: formatAddr('udp', rinfo.address, rinfo.port), size: msg.length, max: this.maxMessageSize },
        'udp datagram larger than maxMessageSize dropped',
      );
      return;
    }
    if (isCrlfOnly(msg)) {
      this.st.udpKeepalives++;
      return;
    }
    this.st.udpReceived++;
    this.deliver(msg, { proto: 'udp', local: l.info.local, remote: endpoint(rinfo.address, rinfo.port, l.family), socketId: l.info.id });
  }

  private deliver(data: Buffer, info: ReceiveInfo): void {
    try {
      this.onMessage(data, info);
    } catch (err) {
      this.log.error({ err, proto: info.proto, peer: formatAddr(info.proto, info.remote.address, info.remote.port) }, 'onMessage handler threw');
    }
  }

  private accept(l: TcpListener, sock: net.Socket): void {
    sock.on('error', () => undefined); // until attach() installs the real handler
    if (this.closing) {
      sock.destroy();
      return;
    }
    const ra = sock.remoteAddress;
    const rp = sock.remotePort;
    if (!ra || !rp) {
      sock.destroy();
      return;
    }
    if (this.conns.size >= this.maxConnections) {
      this.st.tcpRefused++;
      this.warnLimited('tcp-max', { peer: formatAddr('tcp', ra, rp), max: this.maxConnections }, 'tcpMaxConnections reached, connection refused');
      sock.destroy();
      return;
    }
    const remote = endpoint(ra, rp, l.family);
    const c = new Connection(this.nextConnId++, sock, l.info.id, remote, keyOf(ra, rp), false, this.maxMessageSize);
    c.setLocal(endpoint(sock.localAddress ?? l.info.local.address, sock.localPort ?? l.info.local.port, l.family));
    this.st.tcpAccepted++;
    this.attach(c);
    this.log.debug({ conn: c.id, peer: c.peer, socket: l.info.id }, 'tcp connection accepted');
  }

  /** Register a connection and install its handlers. */
  private attach(c: Connection): void {
    this.conns.set(c.id, c);
    const list = this.byKey.get(c.key);
    if (list) list.push(c);
    else this.byKey.set(c.key, [c]);
    this.st.tcpConnections = this.conns.size;
    this.ensureSweep();

    const sock = c.socket;
    sock.setNoDelay(true);
    sock.removeAllListeners('error');
    sock.on('error', (err: Error) => {
      c.lastError = err;
      this.log.debug({ conn: c.id, peer: c.peer, err: errText(err) }, 'tcp connection error');
    });
    sock.on('data', (chunk: Buffer) => this.onTcpData(c, chunk));
    sock.on('close', () => this.forget(c));
  }

  private onTcpData(c: Connection, chunk: Buffer): void {
    if (c.closed || !c.info) return;
    c.lastActivity = Date.now();
    const events = c.framer.push(chunk);
    for (const ev of events) {
      if (c.closed) return;
      if (ev.type === 'message') {
        this.st.tcpReceived++;
        this.deliver(ev.data, c.info);
      } else if (ev.type === 'ping') {
        this.st.keepalivesAnswered++;
        c.socket.write(CRLF);
      } else {
        this.st.framingErrors++;
        this.log.warn({ conn: c.id, peer: c.peer, reason: ev.reason }, 'tcp framing error, closing connection');
        this.destroyConn(c);
      }
    }
  }

  /** Drop a connection from the tables (idempotent; called on 'close' and on our own destroy). */
  private forget(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    this.conns.delete(c.id);
    const list = this.byKey.get(c.key);
    if (list) {
      const i = list.indexOf(c);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byKey.delete(c.key);
    }
    this.st.tcpConnections = this.conns.size;
    if (c.writeWaiters.size > 0) {
      const err = c.lastError ?? new Error('connection closed');
      for (const settle of [...c.writeWaiters]) settle(err);
    }
    if (c.framer.midMessage) {
      this.log.debug({ conn: c.id, peer: c.peer, buffered: c.framer.buffered }, 'tcp connection closed in the middle of a message');
    }
    this.log.debug({ conn: c.id, peer: c.peer }, 'tcp connection closed');
  }

  private destroyConn(c: Connection): void {
    c.socket.destroy();
    this.forget(c);
  }

  // ---------------------------------------------------------------- connections

  /** Close a TCP connection now (e.g. after a malformed message). Unknown ids are ignored. */
  closeConnection(connectionId: number): void {
    const c = this.conns.get(connectionId);
    if (c) this.destroyConn(c);
  }

  /** True while the connection is open (or still connecting). */
  hasConnection(id: number): boolean {
    const c = this.conns.get(id);
    return c !== undefined && c.usable;
  }

  /** Endpoints of an open connection, or undefined. */
  connectionInfo(id: number): ConnectionInfo | undefined {
    const c = this.conns.get(id);
    if (!c || !c.usable || !c.local) return undefined;
    return { id: c.id, socketId: c.socketId, local: c.local, remote: c.remote, outbound: c.outbound };
  }

  private ensureSweep(): void {
    if (this.sweepTimer || this.closing) return;
    const base = this.sendTimeoutMs > 0 ? Math.min(this.lifetimeMs, this.sendTimeoutMs) : this.lifetimeMs;
    const every = Math.max(25, Math.min(1000, Math.floor(base / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  private sweep(): void {
    const now = Date.now();
    for (const c of this.conns.values()) {
      if (!c.connected) continue; // the connect timeout covers these
      if (c.pendingWrites > 0) {
        // Writes stuck without progress: the send timeout, or the lifetime when that is disabled.
        const limit = this.sendTimeoutMs > 0 ? this.sendTimeoutMs : this.lifetimeMs;
        if (now - c.writeProgressAt > limit) {
          this.log.warn({ conn: c.id, peer: c.peer, pending: c.pendingWrites, timeoutMs: limit }, 'tcp send timeout, closing connection');
          c.lastError = new Error(`send timeout after ${limit} ms`);
          this.destroyConn(c);
        }
      } else if (now - c.lastActivity > this.lifetimeMs) {
        this.st.tcpIdleClosed++;
        this.log.debug({ conn: c.id, peer: c.peer, lifetimeMs: this.lifetimeMs }, 'tcp connection idle, closing');
        this.destroyConn(c);
      }
    }
  }

  // ---------------------------------------------------------------- send

  /**
   * Send one message. UDP: from a listen socket of the target's family. TCP: over
   * `connectionId` if still open, else over any open connection to address:port
   * (accepted or opened earlier), else over a new connection. Rejects with
   * KsrError(SEND); never throws synchronously.
   */
  async send(target: SendTarget, data: Buffer): Promise<void> {
    const where = formatAddr(target?.proto ?? '?', target?.address ?? '?', target?.port ?? 0);
    try {
      if (this.closing) throw new Error('transport layer is closed');
      const ip = canonicalIp(target.address);
      if (!ip) throw new Error('not a literal IP address');
      if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new Error('invalid port');
      if (target.proto === 'udp') await this.sendUdp(ip.address, ip.family, target, data);
      else if (target.proto === 'tcp') await this.sendTcp(ip.address, ip.family, target, data);
      else throw new Error(`unsupported protocol "${String(target.proto)}"`);
    } catch (err) {
      this.st.sendErrors++;
      if (err instanceof KsrError && err.code === ErrorCodes.SEND) throw err;
      throw new KsrError(ErrorCodes.SEND, `send to ${where} failed: ${errText(err)}`, { cause: err });
    }
  }

  private pick<L extends Listener>(kind: L['kind'], family: 4 | 6, address: string, socketId: number | undefined): L | undefined {
    let best: L | undefined;
    let bestScore = -1;
    const targetLoop = isLoopback(address, family);
    for (const l of this.listeners) {
      if (l.kind !== kind || l.family !== family) continue;
      if (socketId !== undefined && l.info.id === socketId) return l as L;
      const a = l.info.local.address;
      let score: number;
      if (a === address) score = 4;
      else if (targetLoop) score = isLoopback(a, family) ? 3 : isUnspecified(a) ? 2 : 1;
      else score = isLoopback(a, family) ? 0 : 2;
      if (score > bestScore) {
        best = l as L;
        bestScore = score;
      }
    }
    return best;
  }

  private sendUdp(address: string, family: 4 | 6, target: SendTarget, data: Buffer): Promise<void> {
    const l = this.pick<UdpListener>('udp', family, address, target.socketId);
    if (!l) return Promise.reject(new Error(`no UDP listen socket for IPv${family}`));
    return new Promise<void>((resolve, reject) => {
      l.sock.send(data, target.port, address, (err) => {
        if (err) reject(err);
        else {
          this.st.udpSent++;
          resolve();
        }
      });
    });
  }

  private async sendTcp(address: string, family: 4 | 6, target: SendTarget, data: Buffer): Promise<void> {
    let c: Connection | undefined;
    if (target.connectionId !== undefined) {
      const byId = this.conns.get(target.connectionId);
      if (byId?.usable) c = byId;
    }
    c ??= this.findOpen(keyOf(address, target.port));
    c ??= this.connect(address, family, target.port, target.socketId);
    if (!c.connected) await c.ready;
    if (!c.usable) throw new Error(`connection ${c.id} closed`);
    await this.write(c, data);
  }

  private findOpen(key: string): Connection | undefined {
    const list = this.byKey.get(key);
    if (!list) return undefined;
    let best: Connection | undefined;
    for (const c of list) {
      if (!c.usable) continue;
      // An established one beats one still connecting; then the most recently active.
      if (!best || (c.connected && !best.connected) || (c.connected === best.connected && c.lastActivity >= best.lastActivity)) best = c;
    }
    return best;
  }

  private connect(address: string, family: 4 | 6, port: number, socketId: number | undefined): Connection {
    const l = this.pick<TcpListener>('tcp', family, address, socketId);
    if (!l) throw new Error(`no TCP listen socket for IPv${family}`);
    if (this.conns.size >= this.maxConnections) throw new Error(`tcpMaxConnections (${this.maxConnections}) reached`);
    const localAddress = isUnspecified(l.info.local.address) ? undefined : l.info.local.address;
    const sock = net.connect({ host: address, port, family, noDelay: true, ...(localAddress ? { localAddress } : {}) });
    const c = new Connection(this.nextConnId++, sock, l.info.id, endpoint(address, port, family), keyOf(address, port), true, this.maxMessageSize);
    this.attach(c);
    c.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`connect timed out after ${this.connectTimeoutMs} ms`));
        this.destroyConn(c);
      }, this.connectTimeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        if (c.closed) return;
        c.connected = true;
        c.lastActivity = Date.now();
        c.setLocal(endpoint(sock.localAddress ?? l.info.local.address, sock.localPort ?? 0, family));
        this.st.tcpConnected++;
        this.log.debug({ conn: c.id, peer: c.peer, socket: l.info.id }, 'tcp connection opened');
        resolve();
      });
      sock.once('close', () => {
        clearTimeout(timer);
        reject(c.lastError ?? new Error('connection closed while connecting'));
      });
    });
    c.ready.catch(() => undefined); // the sender awaits it; no unhandled rejection if nobody does
    return c;
  }

  private write(c: Connection, data: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        c.writeWaiters.delete(settle);
        c.pendingWrites--;
        c.writeProgressAt = c.lastActivity = Date.now();
        if (err) reject(err);
        else {
          this.st.tcpSent++;
          resolve();
        }
      };
      if (c.pendingWrites++ === 0) c.writeProgressAt = Date.now();
      c.writeWaiters.add(settle);
      // Node may complete a write cut short by a reset without an error: check the socket too.
      c.socket.write(data, (err) => {
        settle(err ?? (c.socket.destroyed ? (c.lastError ?? new Error('connection closed')) : null));
      });
    });
  }

  // ---------------------------------------------------------------- close

  /** Close every listen socket and connection. Connections are destroyed, not drained. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    }
    for (const c of [...this.conns.values()]) this.destroyConn(c);
    const listeners = this.listeners.splice(0);
    await Promise.all(listeners.map((l) => this.closeListener(l)));
  }

  private closeListener(l: Listener): Promise<void> {
    return new Promise<void>((resolve) => {
      const grace = setTimeout(resolve, CLOSE_GRACE_MS);
      grace.unref();
      const done = (): void => {
        clearTimeout(grace);
        resolve();
      };
      try {
        if (l.kind === 'udp') l.sock.close(done);
        else l.server.close(() => done());
      } catch {
        done();
      }
    });
  }

  // ---------------------------------------------------------------- logging

  /** warn, at most once a second per key, so a flood of bad packets cannot flood the log. */
  private warnLimited(key: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const w = this.lastWarn.get(key);
    if (w && now - w.at < 1000) {
      w.suppressed++;
      return;
    }
    const suppressed = w?.suppressed ?? 0;
    this.lastWarn.set(key, { at: now, suppressed: 0 });
    this.log.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  }
}
