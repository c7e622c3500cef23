import { defineModule, ErrorCodes, RpcRegistry, TransactionLayer, parseMessage, type KsrConfig, type ReceiveInfo, type SipRequest } from '@ksr/core';
import type { TmApi } from '@ksr/modules';
import { INVITE_LINES, sipText } from '../../../core/test/support/context.js';
import { startInProcess } from '../support/inprocess.js';
import { describe, expect, it } from 'vitest';
import { engineRpcGroup, tmRpc } from '../../src/rpc.js';
import { latencyOptions } from '../../src/routing.js';

function cfg(globals: Record<string, number>): KsrConfig {
  return { globals: new Map(Object.entries(globals).map(([k, v]) => [k, { value: v }])) } as unknown as KsrConfig;
}

describe('latency_* core parameters', () => {
  it('are off when not set', () => {
    expect(latencyOptions(cfg({}))).toEqual({});
    expect(latencyOptions(cfg({ latency_limit_action: 0 }))).toEqual({});
  });

  it('map Kamailio levels to log levels and keep the limits', () => {
    expect(latencyOptions(cfg({ latency_cfg_log: 2, latency_limit_cfg: 500 }))).toEqual({ latencyLogLevel: 'info', latencyLimitUs: 500 });
    expect(latencyOptions(cfg({ latency_cfg_log: 3 }))).toEqual({ latencyLogLevel: 'debug' });
    expect(latencyOptions(cfg({ latency_cfg_log: -5 }))).toEqual({ latencyLogLevel: 'fatal' });
    // latency_log defaults to L_ERR as in Kamailio
    expect(latencyOptions(cfg({ latency_limit_action: 100 }))).toEqual({ actionLatency: { limitUs: 100, level: 'error' } });
    expect(latencyOptions(cfg({ latency_limit_action: 100, latency_log: 0 }))).toEqual({ actionLatency: { limitUs: 100, level: 'warn' } });
  });
});

describe('engine RPC groups', () => {
  it("follow Kamailio's names (app_python3 answers to app_python)", () => {
    expect(engineRpcGroup('app_lua')).toBe('app_lua');
    expect(engineRpcGroup('app_jsdt')).toBe('app_jsdt');
    expect(engineRpcGroup('app_python3')).toBe('app_python');
    expect(engineRpcGroup('app_python3s')).toBe('app_python3s');
  });
});

describe('RPC table at start-up', () => {
  it('a command name registered twice stops the start-up before any socket opens', async () => {
    const clash = defineModule({ name: 'clash', kemiName: null, params: {}, create: () => ({ rpc: [{ name: 'core.uptime', doc: 'mine', handler: () => 0 }] }) });
    let destroyed = 0;
    const other = defineModule({ name: 'other', kemiName: null, params: {}, create: () => ({ destroy: () => void destroyed++ }) });
    await expect(
      startInProcess({ cfg: ['listen=udp:127.0.0.1:1', 'loadmodule "other.so"', 'loadmodule "clash.so"'], modules: [other, clash] }),
    ).rejects.toMatchObject({ code: ErrorCodes.RPC_DUPLICATE, message: expect.stringMatching(/core\.uptime.*core.*clash/) });
    expect(destroyed).toBe(1);
  });
});

const INFO: ReceiveInfo = { proto: 'udp', local: { address: '127.0.0.1', port: 5060, family: 4 }, remote: { address: '192.0.2.10', port: 5070, family: 4 }, socketId: 0 };

describe('tm RPC commands', () => {
  it('tm.list shows the live server transactions; tm.stats has every Kamailio field', async () => {
    const layer = new TransactionLayer({ send: async () => {} });
    const req = parseMessage(sipText(INVITE_LINES)) as SipRequest;
    layer.create(req, INFO);
    const api = { layer, stats: () => layer.stats } as unknown as TmApi;
    const rpc = new RpcRegistry().add('tm', tmRpc(api));
    const list = (await rpc.call('tm.list', [])) as Array<Record<string, unknown>>;
    expect(list).toEqual([
      expect.objectContaining({ method: 'INVITE', callid: req.callId, cseq: `${req.cseq.seq} INVITE`, state: expect.any(String), status: 0, source: 'udp:192.0.2.10:5070' }),
    ]);
    const stats = (await rpc.call('tm.stats', [])) as Record<string, number>;
    expect(Object.keys(stats).sort()).toEqual(
      ['current', 'waiting', 'total', 'total_local', 'rpl_received', 'rpl_generated', 'rpl_sent', '6xx', '5xx', '4xx', '3xx', '2xx', 'created', 'freed', 'delayed_free'].sort(),
    );
    expect(stats.current).toBe(1);
    layer.clear();
    const none = new RpcRegistry().add('tm', tmRpc({ layer: undefined, stats: () => undefined } as unknown as TmApi));
    expect(await none.call('tm.list', [])).toEqual([]);
    expect(await none.call('tm.stats', [])).toMatchObject({ current: 0, total: 0 });
  });

});
