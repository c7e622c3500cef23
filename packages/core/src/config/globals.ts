/**
 * Kamailio core parameters (the `name = value` lines of the global section)
 * that ksr knows about: their value type, whether ksr acts on them, and a
 * one-line description. Names are matched case-sensitively, as in Kamailio.
 *
 * Types: `int` takes a number (`yes`/`no` count as 1/0, as in Kamailio where
 * they are numbers), `bool` takes yes/no/on/off/true/false/enable/disable or
 * a number, `str` takes a quoted string or a bare word, `any` keeps what is
 * written (number, boolean word or string).
 */

export type GlobalType = 'int' | 'str' | 'bool' | 'any';

export interface GlobalSpec {
  type: GlobalType;
  /** ksr acts on this parameter; the others are accepted with a warning. */
  implemented: boolean;
  description: string;
}

type Row = [type: GlobalType, description: string];

const IMPLEMENTED: Record<string, Row> = {
  listen: ['any', 'socket to listen on: [proto:]addr[:port] [advertise addr[:port]] [name "x"]; repeatable'],
  port: ['int', 'default port for listen= entries written without one (default 5060)'],
  alias: ['any', 'other [proto:]host[:port] names the server answers to (myself); repeatable'],
  children: ['int', 'number of SIP worker processes/threads for UDP'],
  debug: ['int', 'log level: negative = errors only, 0 warn, 1 notice, 2 info, 3 debug'],
  log_stderror: ['bool', 'log to stderr instead of syslog'],
  log_prefix: ['str', 'text put before every log message'],
  fork: ['bool', 'run as several processes (no = single process, foreground)'],
  auto_aliases: ['bool', 'add the names of listen addresses to the aliases'],
  tcp_connection_lifetime: ['int', 'idle TCP connection lifetime, in seconds'],
  tcp_max_connections: ['int', 'maximum number of open TCP connections'],
  tcp_connect_timeout: ['int', 'TCP connect timeout, in seconds'],
  tcp_send_timeout: ['int', 'TCP send timeout, in seconds'],
  disable_tcp: ['bool', 'do not use TCP at all'],
  server_signature: ['bool', 'add a Server header to locally generated replies'],
  server_header: ['str', 'the full Server header line used when server_signature is on'],
  user_agent_header: ['str', 'the full User-Agent header line of locally generated requests'],
  maxbuffer: ['int', 'maximum receive buffer size for UDP sockets'],
  latency_cfg_log: ['int', 'log level for the execution time of each route (when above latency_limit_cfg)'],
  latency_log: ['int', 'log level for slow operations (DNS, sending)'],
  latency_limit_action: ['int', 'log a KSR call taking longer than this many microseconds (at latency_log level)'],
  latency_limit_cfg: ['int', 'log routes slower than this many microseconds (at latency_cfg_log level)'],
  'kemi.onsend_route_callback': ['str', 'KEMI function run as onsend_route ("none" to disable)'],
  'kemi.reply_route_callback': ['str', 'KEMI function run as reply_route ("none" to disable)'],
  'kemi.event_route_callback': ['str', 'KEMI function run for event routes'],
  'kemi.received_route_callback': ['str', 'KEMI function run for every received message before parsing'],
  'kemi.pre_routing_callback': ['str', 'KEMI function run before request/reply routing'],
  mpath: ['str', 'module search path (ksr modules are built in; accepted and ignored)'],
};

const ACCEPTED: Record<string, Row> = {
  // logging
  log_facility: ['str', 'syslog facility (LOG_LOCAL0...)'],
  log_name: ['str', 'syslog identity'],
  log_color: ['bool', 'colored log output on stderr'],
  log_prefix_mode: ['int', 'how log_prefix is evaluated'],
  log_engine_type: ['str', 'alternative log engine'],
  log_engine_data: ['str', 'data for the alternative log engine'],
  corelog: ['int', 'log level for non-critical core messages'],
  sip_warning: ['int', 'add a Warning header to locally generated replies'],
  memlog: ['int', 'log level for memory status dumps'],
  memdbg: ['int', 'log level for memory debugging messages'],
  mem_summary: ['int', 'memory summary dump flags'],
  mem_safety: ['int', 'memory allocator safety checks'],
  mem_join: ['int', 'join free memory fragments'],
  mem_status_mode: ['int', 'memory status dump mode'],
  latency_limit_db: ['int', 'log database queries slower than this many microseconds'],
  sip_parser_log: ['int', 'log level for SIP parse errors'],
  sip_parser_log_oneline: ['int', 'log SIP parse errors on one line'],
  sip_parser_mode: ['int', 'SIP parser strictness flags'],
  verbose_startup: ['bool', 'more messages at startup'],
  // processes
  fork_delay: ['int', 'delay between forking processes, microseconds'],
  modinit_delay: ['int', 'delay between module initializations, microseconds'],
  tcp_children: ['int', 'number of TCP worker processes'],
  sctp_children: ['int', 'number of SCTP worker processes'],
  socket_workers: ['int', 'workers for the next listen socket'],
  async_workers: ['int', 'number of async worker processes'],
  async_usleep: ['int', 'sleep time of idle async workers'],
  async_nonblock: ['int', 'non-blocking async worker sockets'],
  async_workers_group: ['str', 'definition of a group of async workers'],
  wait_worker1_mode: ['int', 'wait for the first worker to initialize'],
  wait_worker1_time: ['int', 'how long to wait for the first worker'],
  wait_worker1_usleep: ['int', 'polling step while waiting for the first worker'],
  route_locks_size: ['int', 'size of the route execution locks table'],
  real_time: ['int', 'real-time scheduling flags'],
  rt_prio: ['int', 'real-time priority'],
  rt_policy: ['int', 'real-time scheduling policy'],
  rt_timer1_prio: ['int', 'fast timer real-time priority'],
  rt_timer1_policy: ['int', 'fast timer real-time policy'],
  rt_timer2_prio: ['int', 'slow timer real-time priority'],
  rt_timer2_policy: ['int', 'slow timer real-time policy'],
  exit_timeout: ['int', 'seconds to wait for children at shutdown'],
  // process identity and files
  user: ['str', 'run as this user'],
  group: ['str', 'run as this group'],
  chroot: ['str', 'chroot to this directory'],
  workdir: ['str', 'working directory'],
  rundir: ['str', 'directory for runtime files'],
  sock_mode: ['int', 'permissions of unix sockets'],
  sock_user: ['str', 'owner of unix sockets'],
  sock_group: ['str', 'group of unix sockets'],
  open_files_limit: ['int', 'maximum number of open file descriptors'],
  disable_core_dump: ['bool', 'do not allow core dumps'],
  mlock_pages: ['bool', 'lock the shared memory in RAM'],
  shm_mem_size: ['int', 'shared memory size in MB (ksr uses the JS heap)'],
  shm_force_alloc: ['bool', 'touch all shared memory at startup'],
  // network
  mhomed: ['bool', 'pick the outgoing socket by routing table (multihomed)'],
  auto_domains: ['bool', 'add the listen names to the local domains'],
  auto_bind_ipv6: ['int', 'listen on IPv6 too when listening on all addresses'],
  bind_ipv6_link_local: ['int', 'bind IPv6 link-local addresses'],
  ipv6_hex_style: ['str', 'lower or upper case hex in IPv6 addresses'],
  ip_free_bind: ['int', 'allow binding non-local addresses'],
  advertised_address: ['str', 'address written in Via/Record-Route instead of the socket one'],
  advertised_port: ['int', 'port written in Via/Record-Route instead of the socket one'],
  udp_mtu: ['int', 'switch to TCP for requests larger than this'],
  udp_mtu_try_proto: ['any', 'protocol to switch to when udp_mtu is exceeded'],
  udp4_raw: ['int', 'send UDP over IPv4 with raw sockets'],
  udp4_raw_mtu: ['int', 'MTU for raw UDP sockets'],
  udp4_raw_ttl: ['int', 'TTL for raw UDP sockets'],
  tos: ['any', 'IP TOS for outgoing packets'],
  pmtu_discovery: ['int', 'path MTU discovery mode'],
  mcast: ['str', 'multicast interface'],
  mcast_loopback: ['bool', 'loop back multicast packets'],
  mcast_ttl: ['int', 'TTL of multicast packets'],
  reply_to_via: ['bool', 'send replies to the Via address'],
  check_via: ['bool', 'check the Via host of replies'],
  phone2tel: ['int', 'convert sip: URIs with user=phone to tel: URIs'],
  // TCP and TLS
  tcp_accept_aliases: ['bool', 'accept the alias parameter in Via for TCP'],
  tcp_accept_unique: ['int', 'reject duplicate TCP connections'],
  tcp_connection_match: ['int', 'how TCP connections are matched'],
  tcp_poll_method: ['str', 'poll method for TCP (epoll, poll...)'],
  tcp_no_connect: ['bool', 'never open TCP connections'],
  tcp_source_ipv4: ['str', 'source IPv4 address for outgoing TCP connections'],
  tcp_source_ipv6: ['str', 'source IPv6 address for outgoing TCP connections'],
  tcp_fd_cache: ['bool', 'cache TCP file descriptors in workers'],
  tcp_async: ['bool', 'asynchronous TCP writes'],
  tcp_conn_wq_max: ['int', 'maximum queued bytes per TCP connection'],
  tcp_wq_max: ['int', 'maximum queued bytes for all TCP connections'],
  tcp_rd_buf_size: ['int', 'TCP read buffer size'],
  tcp_wq_blk_size: ['int', 'TCP write queue block size'],
  tcp_defer_accept: ['int', 'TCP_DEFER_ACCEPT'],
  tcp_delayed_ack: ['bool', 'TCP delayed ACK'],
  tcp_syncnt: ['int', 'TCP SYN retransmissions'],
  tcp_linger2: ['int', 'TCP FIN_WAIT2 lifetime'],
  tcp_keepalive: ['bool', 'enable TCP keepalive'],
  tcp_keepidle: ['int', 'TCP keepalive idle time'],
  tcp_keepintvl: ['int', 'TCP keepalive interval'],
  tcp_keepcnt: ['int', 'TCP keepalive probes'],
  tcp_crlf_ping: ['bool', 'answer CRLF keepalives'],
  tcp_accept_no_cl: ['bool', 'accept TCP messages without Content-Length'],
  tcp_accept_hep3: ['bool', 'accept HEP3 over TCP'],
  tcp_accept_haproxy: ['bool', 'accept the HAProxy PROXY protocol'],
  tcp_close_rst: ['bool', 'close TCP connections with RST'],
  tcp_clone_rcvbuf: ['int', 'clone the TCP receive buffer'],
  tcp_reuse_port: ['bool', 'SO_REUSEPORT on TCP sockets'],
  tcp_wait_data: ['int', 'wait for data after accepting a connection'],
  tcp_script_mode: ['int', 'TCP script mode flags'],
  tls_max_connections: ['int', 'maximum number of TLS connections'],
  enable_tls: ['bool', 'enable TLS'],
  disable_tls: ['bool', 'disable TLS'],
  tls_port_no: ['int', 'default TLS port'],
  tlslog: ['int', 'TLS log level'],
  enable_sctp: ['int', 'enable SCTP'],
  disable_sctp: ['bool', 'disable SCTP'],
  // DNS
  dns: ['bool', 'resolve the source IP for Via received'],
  rev_dns: ['bool', 'reverse-resolve the source IP for Via received'],
  dns_try_ipv6: ['bool', 'also look up AAAA records'],
  dns_try_naptr: ['bool', 'look up NAPTR records'],
  dns_srv_lb: ['bool', 'load-balance over SRV weights'],
  dns_udp_pref: ['int', 'NAPTR preference for UDP'],
  dns_tcp_pref: ['int', 'NAPTR preference for TCP'],
  dns_tls_pref: ['int', 'NAPTR preference for TLS'],
  dns_sctp_pref: ['int', 'NAPTR preference for SCTP'],
  dns_retr_time: ['int', 'DNS retransmission time'],
  dns_slow_query_ms: ['int', 'log DNS queries slower than this'],
  dns_retr_no: ['int', 'DNS retransmissions'],
  dns_servers_no: ['int', 'number of DNS servers to use'],
  dns_use_search_list: ['bool', 'use the resolv.conf search list'],
  dns_search_full_match: ['bool', 'full match for search list answers'],
  dns_naptr_ignore_rfc: ['bool', 'ignore RFC NAPTR ordering'],
  dns_cache_init: ['bool', 'create the DNS cache at startup'],
  use_dns_cache: ['bool', 'use the internal DNS cache'],
  use_dns_failover: ['bool', 'fail over to the next DNS record'],
  dns_cache_flags: ['int', 'DNS cache flags'],
  dns_cache_negative_ttl: ['int', 'TTL of negative DNS cache entries'],
  dns_cache_min_ttl: ['int', 'minimum DNS cache TTL'],
  dns_cache_max_ttl: ['int', 'maximum DNS cache TTL'],
  dns_cache_mem: ['int', 'DNS cache memory'],
  dns_cache_gc_interval: ['int', 'DNS cache garbage collection interval'],
  dns_cache_del_nonexp: ['bool', 'allow deleting non-expired DNS cache entries'],
  dns_cache_rec_pref: ['int', 'DNS cache record preference'],
  dst_blocklist_init: ['bool', 'create the destination blocklist at startup'],
  use_dst_blocklist: ['bool', 'use the destination blocklist'],
  dst_blocklist_mem: ['int', 'destination blocklist memory'],
  dst_blocklist_expire: ['int', 'destination blocklist entry lifetime'],
  dst_blocklist_gc_interval: ['int', 'destination blocklist garbage collection interval'],
  dst_blocklist_udp_imask: ['int', 'destination blocklist ignore mask for UDP'],
  dst_blocklist_tcp_imask: ['int', 'destination blocklist ignore mask for TCP'],
  dst_blocklist_tls_imask: ['int', 'destination blocklist ignore mask for TLS'],
  dst_blocklist_sctp_imask: ['int', 'destination blocklist ignore mask for SCTP'],
  // routing engine and scripting
  max_while_loops: ['int', 'maximum iterations of a while loop in native routes'],
  max_recursive_level: ['int', 'maximum route() recursion'],
  max_branches: ['int', 'maximum number of branches'],
  pv_buffer_size: ['int', 'size of the pseudo-variable print buffers'],
  pv_buffer_slots: ['int', 'number of pseudo-variable print buffers'],
  pv_cache_limit: ['int', 'pseudo-variable cache limit'],
  pv_cache_action: ['int', 'what to do when the pseudo-variable cache is full'],
  onsend_route_reply: ['bool', 'run onsend_route for replies too'],
  'kemi.received_route_mode': ['int', 'what the received_route callback may do'],
  xavp_via_params: ['str', 'xavp whose fields are added as Via parameters'],
  xavp_via_fields: ['str', 'xavp with Via fields'],
  uri_host_extra_chars: ['str', 'extra characters allowed in URI hosts'],
  hdr_name_extra_chars: ['str', 'extra characters allowed in header names'],
  http_reply_parse: ['bool', 'parse HTTP replies'],
  statistics: ['any', 'statistics settings'],
  stats_name_separator: ['str', 'separator in statistics names'],
  sql_buffer_size: ['int', 'SQL query buffer size'],
  server_id: ['int', 'numeric id of this server'],
  version_table: ['str', 'name of the database version table'],
  rpc_exec_delta: ['int', 'minimum interval between some RPC commands'],
  msg_time: ['int', 'set the message receive time'],
};

/** Other spellings Kamailio accepts for the same parameter. */
export const GLOBAL_ALIASES: Readonly<Record<string, string>> = {
  uid: 'user',
  gid: 'group',
  wdir: 'workdir',
  run_dir: 'rundir',
  mem_log: 'memlog',
  mem_dbg: 'memdbg',
  core_log: 'corelog',
  shm: 'shm_mem_size',
  shm_mem: 'shm_mem_size',
  dns_rev_via: 'rev_dns',
  dns_use_cache: 'use_dns_cache',
  dns_use_failover: 'use_dns_failover',
  dns_srv_loadbalancing: 'dns_srv_lb',
  dns_udp_preference: 'dns_udp_pref',
  dns_tcp_preference: 'dns_tcp_pref',
  dns_tls_preference: 'dns_tls_pref',
  dns_sctp_preference: 'dns_sctp_pref',
  dns_cache_delete_nonexpired: 'dns_cache_del_nonexp',
  dst_blocklist_ttl: 'dst_blocklist_expire',
  ipfreebind: 'ip_free_bind',
  ip_nonlocal_bind: 'ip_free_bind',
  ser_kill_timeout: 'exit_timeout',
  tcp_buf_write: 'tcp_async',
  tls_enable: 'enable_tls',
  tls_disable: 'disable_tls',
  tls_log: 'tlslog',
  rt_fast_timer_prio: 'rt_timer1_prio',
  rt_ftimer_prio: 'rt_timer1_prio',
  rt_ftimer_policy: 'rt_timer1_policy',
  rt_stimer_prio: 'rt_timer2_prio',
  rt_stimer_policy: 'rt_timer2_policy',
  http_reply_hack: 'http_reply_parse',
  loadpath: 'mpath',
};

function build(): Map<string, GlobalSpec> {
  const m = new Map<string, GlobalSpec>();
  for (const [name, [type, description]] of Object.entries(IMPLEMENTED)) {
    m.set(name, { type, implemented: true, description });
  }
  for (const [name, [type, description]] of Object.entries(ACCEPTED)) {
    m.set(name, { type, implemented: false, description });
  }
  return m;
}

/** Canonical name -> spec. */
export const GLOBAL_PARAMS: ReadonlyMap<string, GlobalSpec> = build();

/** Look a global up by any of its spellings; returns the canonical name. */
export function lookupGlobal(name: string): { name: string; spec: GlobalSpec } | undefined {
  const canonical = GLOBAL_ALIASES[name] ?? name;
  const spec = GLOBAL_PARAMS.get(canonical);
  return spec ? { name: canonical, spec } : undefined;
}
