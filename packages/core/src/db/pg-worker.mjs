// The PostgreSQL side of the synchronous Db (postgres.ts): runs in a worker thread, owns one `pg`
// client, answers each request on the message port and then wakes the blocked caller through the
// shared Int32Array (Atomics.notify). Plain JavaScript: worker threads do not get the TS loader.
// Nothing here may throw out: every failure becomes an answer ({ error }).
import { workerData } from 'node:worker_threads';
import pg from 'pg';

const { port, signal: sab, config, schema, createSchema } = workerData;
const signal = new Int32Array(sab);

// Keep dates and big numbers as plain values the caller can use: timestamps as the text the
// database holds (Kamailio's "YYYY-MM-DD HH:MM:SS"), int8/numeric as numbers when exact.
const asText = (v) => v;
const asNumber = (v) => {
  const n = Number(v);
  if (Number.isSafeInteger(n) || (!Number.isInteger(n) && Number.isFinite(n))) return n;
  try {
    return BigInt(v);
  } catch {
    return v;
  }
};
const types = {
  getTypeParser(oid, format) {
    if (oid === 1114 || oid === 1184 || oid === 1082) return asText; // timestamp, timestamptz, date
    if (oid === 20 || oid === 1700) return asNumber; // int8, numeric
    return pg.types.getTypeParser(oid, format);
  },
};

let client = null;
let connecting = null;

async function connect() {
  if (client) return client;
  if (!connecting) {
    connecting = (async () => {
      const c = new pg.Client({ ...config, types });
      c.on('error', () => {
        // connection lost: the next request reconnects
        if (client === c) client = null;
      });
      try {
        await c.connect();
        if (schema) {
          if (createSchema) {
            try {
              await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
            } catch (err) {
              if (err?.code !== '23505' && err?.code !== '42P06') throw err;
            }
          }
          await c.query(`SET search_path TO "${schema}"`);
        }
      } catch (err) {
        c.end().catch(() => {});
        throw Object.assign(err instanceof Error ? err : new Error(String(err)), { phase: 'connect' });
      }
      client = c;
      return c;
    })().finally(() => {
      connecting = null;
    });
  }
  return connecting;
}

function answer(msg) {
  try {
    port.postMessage(msg);
  } catch (err) {
    port.postMessage({ id: msg.id, error: { phase: 'query', message: `cannot pass the answer back: ${err?.message ?? err}` } });
  }
  Atomics.store(signal, 0, msg.id);
  Atomics.notify(signal, 0);
}

function errorOf(err) {
  return {
    phase: err?.phase ?? (client ? 'query' : 'connect'),
    message: String(err?.message ?? err) || String(err?.code ?? 'error'),
    code: typeof err?.code === 'string' ? err.code : undefined,
  };
}

let chain = Promise.resolve();
port.on('message', (req) => {
  chain = chain.then(async () => {
    if (req.op === 'close') {
      const c = client;
      client = null;
      try {
        await c?.end();
      } catch {
        // closing anyway
      }
      answer({ id: req.id, rows: [], rowCount: 0 });
      return;
    }
    try {
      const c = await connect();
      // booleans as 1/0 (text '1' is valid for integer and boolean columns), bigints as text
      const params = (req.params ?? []).map((v) => (typeof v === 'bigint' ? v.toString() : typeof v === 'boolean' ? (v ? 1 : 0) : v));
      const r = await c.query({ text: req.sql, values: params });
      const last = Array.isArray(r) ? r[r.length - 1] : r;
      answer({ id: req.id, rows: last?.rows ?? [], rowCount: last?.rowCount ?? 0 });
    } catch (err) {
      answer({ id: req.id, error: errorOf(err) });
    }
  });
});
process.on('uncaughtException', () => {
  // a broken socket inside pg: drop the client, the next request reconnects
  client = null;
});
