/**
 * PostgreSQL behind the synchronous Db: the `pg` client runs in a worker thread (pg-worker.mjs);
 * the caller posts a request and blocks on Atomics.wait until the worker answers, then takes the
 * answer with receiveMessageOnPort. A query that does not answer within `timeoutMs` is a coded
 * KSR_ERR_DB_TIMEOUT and the worker is replaced (its connection may be stuck); connection failures
 * are KSR_ERR_DB_CONNECT naming host:port/db. Nothing hangs, nothing crashes the caller.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { ErrorCodes, KsrError } from '../errors.js';
import { buildDelete, buildInsert, buildSelect, buildUpdate, toPgPlaceholders } from './sql.js';
import type { Db, DbQuery, DbRow, DbValue, DbWhere } from './types.js';
import { pgTarget, type DbUrl } from './url.js';

type PgUrl = Extract<DbUrl, { kind: 'postgres' }>;

interface Answer {
  id: number;
  rows?: DbRow[];
  rowCount?: number;
  error?: { phase: 'connect' | 'query'; message: string; code?: string };
}

/** Extra time the first request of a new worker gets (thread start, loading pg). */
const WORKER_START_MS = 2000;

export interface PostgresOptions {
  /** How long one query may take, connecting included (ms). Default 5000. */
  timeoutMs?: number;
  /** Create the `?schema=` schema when missing. */
  createSchema?: boolean;
}

export class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  readonly url: string;
  private readonly target: string;
  private readonly timeoutMs: number;
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private signal: Int32Array | undefined;
  private nextId = 0;
  private depth = 0;
  private closed = false;

  constructor(
    private readonly u: PgUrl,
    private readonly opts: PostgresOptions = {},
  ) {
    this.url = u.masked;
    this.target = pgTarget(u);
    this.timeoutMs = Math.max(1, opts.timeoutMs ?? 5000);
  }

  private start(): void {
    const sab = new SharedArrayBuffer(4);
    this.signal = new Int32Array(sab);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const config = {
      host: this.u.host,
      port: this.u.port,
      user: this.u.user || undefined,
      password: this.u.password,
      database: this.u.database,
      connectionTimeoutMillis: this.timeoutMs,
      application_name: 'ksr',
    };
    this.worker = new Worker(new URL('./pg-worker.mjs', import.meta.url), {
      workerData: { port: port2, signal: sab, config, schema: this.u.schema, createSchema: this.opts.createSchema === true },
      transferList: [port2],
    });
    // the caller waits synchronously, so the worker's own failures surface as timeouts; keep them quiet here
    this.worker.on('error', () => {});
    this.worker.unref();
    this.port.unref();
    this.nextId = 0;
  }

  private stop(): void {
    const w = this.worker;
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    if (w) void w.terminate().catch(() => {});
  }

  private request(msg: { op: 'query' | 'close'; sql?: string; params?: readonly DbValue[] }): Answer {
    if (this.closed) throw new KsrError(ErrorCodes.DB_CONNECT, `${this.url}: the database is closed`);
    if (!this.worker) this.start();
    const signal = this.signal!;
    const id = ++this.nextId;
    this.port!.postMessage({ id, ...msg });
    // a fresh worker first loads pg: that start-up is not the database's time
    const deadline = Date.now() + this.timeoutMs + (id === 1 ? WORKER_START_MS : 0);
    for (;;) {
      const v = Atomics.load(signal, 0);
      if (v === id) break;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.stop();
        this.depth = 0;
        throw new KsrError(
          ErrorCodes.DB_TIMEOUT,
          `PostgreSQL ${this.target}: no answer within ${this.timeoutMs} ms${msg.sql ? ` (${msg.sql.slice(0, 120)})` : ''}`,
        );
      }
      Atomics.wait(signal, 0, v, left);
    }
    for (;;) {
      const got = receiveMessageOnPort(this.port!);
      if (!got) {
        this.stop();
        throw new KsrError(ErrorCodes.DB_QUERY, `PostgreSQL ${this.target}: the worker signalled an answer it did not send`);
      }
      const a = got.message as Answer;
      if (a.id === id) return a;
    }
  }

  private query(sql: string, params: readonly DbValue[]): Answer {
    const a = this.request({ op: 'query', sql: toPgPlaceholders(sql), params });
    if (a.error) {
      if (a.error.phase === 'connect') {
        throw new KsrError(ErrorCodes.DB_CONNECT, `cannot connect to PostgreSQL ${this.target} (${this.url}): ${a.error.message}`);
      }
      throw Object.assign(new KsrError(ErrorCodes.DB_QUERY, `PostgreSQL ${this.target}: ${a.error.message} (${sql.slice(0, 200)})`), {
        sqlState: a.error.code,
      });
    }
    return a;
  }

  select(table: string, q?: DbQuery): DbRow[] {
    const { sql, params } = buildSelect(table, q);
    return this.query(sql, params).rows ?? [];
  }

  insert(table: string, row: DbRow): void {
    const { sql, params } = buildInsert(table, row);
    this.query(sql, params);
  }

  update(table: string, where: DbWhere, set: DbRow): number {
    const { sql, params } = buildUpdate(table, where, set);
    return this.query(sql, params).rowCount ?? 0;
  }

  delete(table: string, where: DbWhere): number {
    const { sql, params } = buildDelete(table, where);
    return this.query(sql, params).rowCount ?? 0;
  }

  exec(sql: string, params: readonly DbValue[] = []): DbRow[] {
    return this.query(sql, params).rows ?? [];
  }

  transaction<T>(fn: () => T): T {
    const level = this.depth;
    const sp = `ksr_sp_${level}`;
    this.query(level === 0 ? 'BEGIN' : `SAVEPOINT ${sp}`, []);
    this.depth++;
    let out: T;
    try {
      out = fn();
    } catch (err) {
      this.depth = level;
      try {
        this.query(level === 0 ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${sp}`, []);
      } catch {
        // the original error matters more (a timeout already dropped the connection)
      }
      throw err;
    }
    this.depth = level;
    this.query(level === 0 ? 'COMMIT' : `RELEASE SAVEPOINT ${sp}`, []);
    return out;
  }

  close(): void {
    if (this.closed) return;
    if (this.worker) {
      try {
        this.request({ op: 'close' });
      } catch {
        // closing anyway
      }
    }
    this.closed = true;
    this.stop();
  }
}
