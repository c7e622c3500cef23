import dgram from 'node:dgram';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseMessage, type SipResponse } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basePort, ksrBin, repoRoot, run, sippArgs, startKsr, startProc, type Proc } from '../support/proc.js';

// examples/basic end to end, in every language: the ksr command serves examples/basic/ksr.cfg with
// -A defines choosing the engine (and the port, the fallback target, the database), and the SAME
// sipp scenarios (sipp/example-*.xml) drive each script, so the four must behave identically.
// Each language runs twice: without authentication, and WITH_AUTH against a SQLite subscriber
// table (the scenarios answer the 401/407 challenges when they come, with sipp's -au/-ap).
// Everything is on 127.0.0.1; the hostile messages name only 127.0.0.1.

interface Variant {
  /** the name the server logs: "routing with <engine>: <script>" */
  engine: string;
  script: string;
  /** -A defines selecting the engine (none: the Lua default) */
  defines: string[];
  /** the RPC group of the engine's reload command */
  rpc: string;
  /** Pyodide needs seconds to start (more on a busy machine) */
  startMs: number;
}

const VARIANTS: Variant[] = [
  { engine: 'lua', script: 'examples/basic/basic.lua', defines: [], rpc: 'app_lua', startMs: 30_000 },
  { engine: 'jsdt', script: 'examples/basic/basic.js', defines: ['WITH_CFGJSDT'], rpc: 'app_jsdt', startMs: 30_000 },
  { engine: 'python', script: 'examples/basic/basic.py', defines: ['WITH_CFGPYTHON'], rpc: 'app_python', startMs: 90_000 },
  { engine: 'python3s', script: 'examples/basic/basic3s.py', defines: ['WITH_CFGPYTHON3S'], rpc: 'app_python3s', startMs: 90_000 },
];

const PASSWORD = 'secret-Pw1';
/** Subscribers of the WITH_AUTH servers (dave has no phone registered). */
const SUBSCRIBERS = ['alice', 'bob', 'carol', 'dave'];
/** Made once with `ksr user add` (as docs/getting-started.md shows), copied for each WITH_AUTH server. */
const SUBSCRIBER_DIR = mkdtempSync(join(tmpdir(), 'ksr-example-users-'));
const SUBSCRIBER_DB = join(SUBSCRIBER_DIR, 'ksr.db');

async function addSubscribers(): Promise<void> {
  const add = async (user: string): Promise<void> => {
    const r = await run(process.execPath, [ksrBin, 'user', 'add', `${user}@127.0.0.1`, PASSWORD, '--db-url', `sqlite://${SUBSCRIBER_DB}`], 30_000);
    expect(r.output).toContain(`user ${user}@127.0.0.1 added`);
    expect(r.code).toBe(0);
  };
  // the first one creates the file and its tables
  await add(SUBSCRIBERS[0]!);
  await Promise.all(SUBSCRIBERS.slice(1).map(add));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until a UDP socket is bound on 127.0.0.1:port (a sipp phone that just started). */
async function listening(port: number): Promise<void> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (let waited = 0; waited < 10_000; waited += 25) {
    if (readFileSync('/proc/net/udp', 'utf8').includes(local)) return;
    await sleep(25);
  }
  throw new Error(`nothing listens on udp 127.0.0.1:${port}`);
}
const ok = (calls: number): RegExp => new RegExp(`Successful call\\s+\\|\\s+\\d+\\s+\\|\\s+${calls}\\b`);

/** How many `code` replies sipp's scenario screen counts (the scenarios have one such row). */
function received(output: string, code: number): number {
  const m = new RegExp(`\\b${code} <-+\\s+(\\d+)`).exec(output);
  return m ? Number(m[1]) : Number.NaN;
}

/** Send one raw request over UDP from a fresh socket (LPORT = its port); its final replies (1xx left out). */
async function udp(port: number, lines: string[], waitMs = 1500): Promise<SipResponse[]> {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const text = lines.join('\r\n').replace(/LPORT/g, String(sock.address().port));
  sock.send(Buffer.from(text), port, '127.0.0.1');
  const finals = (): SipResponse[] => got.map((b) => parseMessage(b) as SipResponse).filter((r) => r.status >= 200);
  for (let waited = 0; waited < waitMs && finals().length === 0; waited += 20) await sleep(20);
  if (got.length > 0) await sleep(100); // a second final reply would be a bug
  sock.close();
  return finals();
}

function request(method: string, ruri: string, extra: string[], opts: { ua?: string; cseq?: string; to?: string } = {}): string[] {
  const id = `${method.toLowerCase()}-${Math.random().toString(36).slice(2)}`;
  // alice and bob of the server's domain: 127.0.0.1 with the server's port (not 5060 here)
  const hostport = ruri.replace(/^sip:([^@]*@)?/, '');
  return [
    `${method} ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:LPORT;branch=z9hG4bK-${id};rport`,
    `From: <sip:alice@${hostport}>;tag=${id}`,
    `To: <sip:${opts.to ?? 'bob'}@${hostport}>`,
    `Call-ID: ${id}@127.0.0.1`,
    `CSeq: ${opts.cseq ?? `1 ${method}`}`,
    ...(opts.ua ? [`User-Agent: ${opts.ua}`] : []),
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ];
}

/** One ksr server of the example and the sipp helpers that talk to it. */
class Example {
  /** Every one made, so the file's afterAll removes their folders even when a filter skipped them. */
  static readonly all: Example[] = [];
  readonly port: number;
  readonly uac: number;
  readonly uas: number;
  readonly fallback: number;
  readonly reg: number;
  readonly target: string;
  readonly tmp = mkdtempSync(join(tmpdir(), 'ksr-example-'));
  readonly rpcSocket = join(this.tmp, 'rpc.sock');
  ksr!: Proc;
  /** Resolves once the server serves (started by the file's beforeAll, awaited by its describe). */
  starting: Promise<void> | undefined;
  /** More -A defines. */
  extra: string[] = [];

  /** Offsets 260–299: five ports per server (ksr, caller, callee, fallback, registering client). */
  constructor(
    readonly v: Variant,
    readonly auth: boolean,
    slot: number,
  ) {
    const b = 260 + slot * 5;
    [this.port, this.uac, this.uas, this.fallback, this.reg] = [b, b + 1, b + 2, b + 3, b + 4].map((o) => basePort(o)) as [number, number, number, number, number];
    this.target = `127.0.0.1:${this.port}`;
    Example.all.push(this);
  }

  async start(): Promise<void> {
    const defines = [
      ...this.v.defines,
      `LISTEN_PORT=${this.port}`,
      'WITH_ANTIFLOOD',
      `FALLBACK_URI=sip:voicemail@127.0.0.1:${this.fallback}`,
      'WITH_JSONRPC',
      `RPC_SOCKET="${this.rpcSocket}"`,
      ...this.extra,
    ];
    if (this.auth) {
      const file = join(this.tmp, 'ksr.db');
      copyFileSync(SUBSCRIBER_DB, file);
      defines.push('WITH_AUTH', `DBURL="sqlite://${file}"`);
    }
    // -d: debug level, so the branch and reply callbacks' KSR.dbg lines show
    this.ksr = startKsr(['-f', 'examples/basic/ksr.cfg', '-E', '-d', ...defines.flatMap((d) => ['-A', d])]);
    await this.ksr.waitFor(/serving/, this.v.startMs);
  }

  stop(): void {
    this.ksr?.kill('SIGKILL');
    rmSync(this.tmp, { recursive: true, force: true });
  }

  /** sipp's credentials for `user` on the WITH_AUTH server. */
  creds(user: string, password = PASSWORD): string[] {
    return this.auth ? ['-au', user, '-ap', password] : [];
  }

  /** The scenario's sipp as the caller alice, from the caller port, calling `callee`. */
  caller(scenario: string, callee: string): Promise<{ code: number | string; output: string }> {
    return run('sipp', sippArgs(scenario, this.target, this.uac, ['-s', callee, '-key', 'caller', 'alice', '-m', '1', ...this.creds('alice')]), 30_000);
  }

  /** A sipp phone answering on `port` with the given scenario. */
  phone(scenario: string, port: number): Proc {
    return startProc('sipp', ['-sf', resolve(repoRoot, 'packages/ksr/test/sipp', scenario), '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-nostdin', '-timeout', '15s']);
  }

  /** Register `user` with the contact 127.0.0.1:contactPort (the port of a sipp phone). */
  register(user: string, contactPort: number, password = PASSWORD): Promise<{ code: number | string; output: string }> {
    return run('sipp', sippArgs('example-register.xml', this.target, this.reg, ['-s', user, '-key', 'contact_port', String(contactPort), '-m', '1', ...this.creds(user, password)]), 30_000);
  }

  /** The scenario met the challenges (`codes`) exactly when the server authenticates. */
  expectChallenged(output: string, ...codes: number[]): void {
    for (const c of codes) expect(received(output, c), `${c} replies`).toBe(this.auth ? 1 : 0);
  }

  /** bob registered at the callee port, answering with `scenario`; alice calls him with `callerScenario`. */
  async call(bobScenario: string, callerScenario: string, extraPhones: Proc[] = []): Promise<void> {
    const reg = await this.register('bob', this.uas);
    expect(reg.code, reg.output).toBe(0);
    this.expectChallenged(reg.output, 401);
    const bob = this.phone(bobScenario, this.uas);
    await listening(this.uas);
    const alice = await this.caller(callerScenario, 'bob');
    const done = await Promise.all([bob.exited, ...extraPhones.map((p) => p.exited)]);
    const why = `caller (exit ${alice.code}):\n${alice.output.slice(-4000)}\nserver:\n${this.ksr.output().slice(-4000)}`;
    expect(alice.output, why).toMatch(ok(1));
    expect(alice.code, why).toBe(0);
    expect(done).toEqual(done.map(() => 0));
    // the caller registers first in example-call.xml; every INVITE from a local user is challenged
    this.expectChallenged(alice.output, ...(callerScenario === 'example-call.xml' ? [401, 407] : [407]));
  }
}

function exampleTests(get: () => Example): void {
  it('loads the script of its language', () => {
    const x = get();
    expect(x.ksr.output()).toContain(`routing with ${x.v.engine}: ${x.v.script}`);
  });

  it('answers OPTIONS keep-alives to the server itself with 200 (no challenge), over UDP and TCP', async () => {
    const x = get();
    for (const t of [[], ['-t', 't1']]) {
      const r = await run('sipp', sippArgs('example-options.xml', x.target, x.uac, ['-m', '2', '-r', '20', ...t]), 30_000);
      expect(r.output).toMatch(ok(2));
      expect(r.code).toBe(0);
    }
  });

  it('registers a user (200 listing the binding)', async () => {
    const x = get();
    const r = await x.register('carol', x.uas);
    expect(r.output).toMatch(ok(1));
    expect(r.code).toBe(0);
    x.expectChallenged(r.output, 401);
  });

  it('connects a call between two registered phones: INVITE, 180, 200, ACK, BYE along the record-route', async () => {
    const x = get();
    await x.call('example-uas.xml', 'example-call.xml');
    // tm ran the script's branch callback for the INVITE and its reply callback for 180 and 200
    const out = x.ksr.output();
    expect(out).toContain(`new branch [0] to sip:bob@127.0.0.1:${x.uas}`);
    expect(out).toMatch(/incoming reply 180 from 127\.0\.0\.1/);
    expect(out).toMatch(/incoming reply 200 from 127\.0\.0\.1/);
  });

  it('answers a call to an unknown user with 404', async () => {
    const x = get();
    const r = await x.caller('example-unknown.xml', 'nobody');
    expect(r.output).toMatch(ok(1));
    expect(r.code).toBe(0);
    x.expectChallenged(r.output, 407);
  });

  it('cancels a ringing call: 200 to the CANCEL, 487 to the INVITE, the callee gets the CANCEL', async () => {
    await get().call('example-uas-ring.xml', 'example-cancel.xml');
  });

  it('sends a call the callee refuses with 486 to FALLBACK_URI (failure route, serial fork)', async () => {
    const x = get();
    const voicemail = x.phone('example-uas.xml', x.fallback);
    await listening(x.fallback);
    await x.call('example-uas-busy.xml', 'example-call.xml', [voicemail]);
    expect(x.ksr.output()).toMatch(new RegExp(`failed with 486, trying sip:voicemail@127\\.0\\.0\\.1:${x.fallback}`));
  });

  it('answers malformed requests with 400, ignores scanners, stops loops (483), and serves the next call', async () => {
    const x = get();
    const ruri = `sip:bob@${x.target}`;
    // unparseable (Max-Forwards above 255): the server core answers 400 before the script runs
    const broken = await udp(x.port, request('INVITE', ruri, ['Max-Forwards: 999']));
    expect(broken.map((r) => r.status)).toEqual([400]);
    // parseable but inconsistent (CSeq method differs from the request's): sanity in the script answers 400
    const insane = await udp(x.port, request('INVITE', ruri, ['Max-Forwards: 70'], { cseq: '1 BYE' }));
    expect(insane.map((r) => r.status)).toEqual([400]);
    // no hops left
    const hops = await udp(x.port, request('MESSAGE', ruri, ['Max-Forwards: 0']));
    expect(hops.map((r) => r.status)).toEqual([483]);
    // a scanner gets no answer at all (the same OPTIONS from a phone gets 200)
    const scan = await udp(x.port, request('OPTIONS', `sip:${x.target}`, ['Max-Forwards: 70'], { ua: 'friendly-scanner' }), 500);
    expect(scan).toEqual([]);
    const probe = await udp(x.port, request('OPTIONS', `sip:${x.target}`, ['Max-Forwards: 70'], { ua: 'a phone' }));
    expect(probe.map((r) => r.status)).toEqual([200]);

    await x.call('example-uas.xml', 'example-call.xml');
  });
}

// Two servers per language (without and WITH_AUTH). They all start at once when the file starts,
// so the Python ones load Pyodide (seconds) while the Lua and JavaScript tests run.
const SERVERS = VARIANTS.map((v, i) => [new Example(v, false, 2 * i), new Example(v, true, 2 * i + 1)] as const);

beforeAll(async () => {
  await addSubscribers();
  for (const x of SERVERS.flat()) {
    x.starting = x.start();
    x.starting.catch(() => undefined); // reported by the describe that awaits it
  }
});

afterAll(() => {
  for (const x of Example.all) x.stop();
  rmSync(SUBSCRIBER_DIR, { recursive: true, force: true });
});

VARIANTS.forEach((v, i) => {
  describe(`examples/basic in ${v.engine} (${v.script})`, () => {
    const [plain, authed] = SERVERS[i]!;

    beforeAll(async () => {
      await Promise.all([plain.starting, authed.starting]);
    }, 120_000);

    afterAll(() => {
      plain.stop();
      authed.stop();
    });

    describe('without authentication', () => {
      exampleTests(() => plain);

      it('reloads the script without a restart (ksr ctl <engine>.reload over the RPC socket)', async () => {
        const x = plain;
        const r = await run(process.execPath, [ksrBin, 'ctl', '-s', x.rpcSocket, `${x.v.rpc}.reload`], 30_000);
        expect(r.output).toMatch(/^old: 1\nnew: 2\n/m);
        expect(r.code).toBe(0);
        await x.call('example-uas.xml', 'example-call.xml');
      });

      it("answers 405 for a method the callee's phone does not accept (Allow at REGISTER)", async () => {
        const reg = await udp(plain.port, request('REGISTER', `sip:${plain.target}`, ['Max-Forwards: 70', `Contact: <sip:frank@127.0.0.1:${plain.uas}>`, 'Allow: INVITE, ACK, CANCEL, BYE', 'Expires: 60'], { to: 'frank' }));
        expect(reg.map((r) => r.status)).toEqual([200]);
        const msg = await udp(plain.port, request('MESSAGE', `sip:frank@${plain.target}`, ['Max-Forwards: 70']));
        expect(msg.map((r) => r.status)).toEqual([405]);
      });

      it('asks no credentials: a REGISTER gets 200 at once', async () => {
        const reg = await udp(plain.port, request('REGISTER', `sip:${plain.target}`, ['Max-Forwards: 70', `Contact: <sip:erin@127.0.0.1:${plain.uas}>`, 'Expires: 60'], { to: 'erin' }));
        expect(reg.map((r) => r.status)).toEqual([200]);
      });
    });

    describe('WITH_AUTH (subscribers in SQLite)', () => {
      exampleTests(() => authed);

      it('challenges a REGISTER with 401 and a call from a local user with 407; no challenge for OPTIONS', async () => {
        const reg = await udp(authed.port, request('REGISTER', `sip:${authed.target}`, ['Max-Forwards: 70', `Contact: <sip:erin@127.0.0.1:${authed.uas}>`, 'Expires: 60'], { to: 'erin' }));
        expect(reg.map((r) => r.status)).toEqual([401]);
        expect(reg[0]!.header('www-authenticate')).toMatch(/^Digest .*realm="127\.0\.0\.1"/);
        const inv = await udp(authed.port, request('INVITE', `sip:bob@${authed.target}`, ['Max-Forwards: 70']));
        expect(inv.map((r) => r.status)).toEqual([407]);
        expect(inv[0]!.header('proxy-authenticate')).toMatch(/^Digest .*realm="127\.0\.0\.1"/);
        const opt = await udp(authed.port, request('OPTIONS', `sip:${authed.target}`, ['Max-Forwards: 70']));
        expect(opt.map((r) => r.status)).toEqual([200]);
      });

      it('refuses to relay between two foreign domains (403)', async () => {
        // neither the From nor the Request-URI names this server (another port of 127.0.0.1)
        const r = await udp(authed.port, [
          'MESSAGE sip:zed@127.0.0.1:9 SIP/2.0',
          'Via: SIP/2.0/UDP 127.0.0.1:LPORT;branch=z9hG4bK-relay1;rport',
          'From: <sip:yan@127.0.0.1:9>;tag=r1',
          'To: <sip:zed@127.0.0.1:9>',
          'Call-ID: relay1@127.0.0.1',
          'CSeq: 1 MESSAGE',
          'Max-Forwards: 70',
          'Content-Length: 0',
          '',
          '',
        ]);
        expect(r.map((x) => x.status)).toEqual([403]);
      });

      it('refuses a REGISTER with a wrong password (challenged again, the scenario fails)', async () => {
        const r = await authed.register('carol', authed.uas, 'wrong');
        // the REGISTER with (wrong) credentials (step 3) got 401 where the scenario wants 200
        expect(r.output).toMatch(/while expecting '200' \(index 4\), received 'SIP\/2\.0 401/);
        expect(r.code).not.toBe(0);
      });

      it('answers a call to a subscriber with no registered phone with 480', async () => {
        const r = await authed.caller('example-unavailable.xml', 'dave');
        expect(r.output).toMatch(ok(1));
        expect(r.code).toBe(0);
      });
    });
  });
});

// WITH_USRLOCDB (usrloc db_mode 2 on SQLite): a registration survives a restart. Runs last, on the
// ports of the Lua server without authentication (stopped by then).
describe('examples/basic WITH_USRLOCDB: registrations survive a restart (lua)', () => {
  const x = new Example(VARIANTS[0]!, false, 0);
  x.extra = ['WITH_USRLOCDB', `DBURL="sqlite://${join(x.tmp, 'ksr.db')}"`];

  beforeAll(async () => {
    // the Lua server on these ports (stopped already unless a test filter skipped its describe)
    const lua = SERVERS[0]![0];
    lua.stop();
    if (lua.ksr) await lua.ksr.exited;
  });

  afterAll(() => x.stop());

  it('registers bob, restarts (SIGTERM writes the locations), and still reaches bob', async () => {
    await x.start();
    const reg = await x.register('bob', x.uas);
    expect(reg.code, reg.output).toBe(0);

    x.ksr.kill('SIGTERM');
    expect(await x.ksr.exited).toBe(0);
    await x.start();

    // no REGISTER since the restart: the location came back from the database
    const bob = x.phone('example-uas.xml', x.uas);
    await listening(x.uas);
    const alice = await x.caller('example-call.xml', 'bob');
    expect(await bob.exited).toBe(0);
    expect(alice.output).toMatch(ok(1));
    expect(alice.code).toBe(0);
  });
});
