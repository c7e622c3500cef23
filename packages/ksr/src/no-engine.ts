import type { Logger, ReceiveInfo, SipRequest, SipServer } from '@ksr/core';

/**
 * What the server does with requests when the config names no `cfgengine`: it can route
 * nothing, so it says so. An OPTIONS without a user part in the Request-URI (the usual
 * keep-alive / health probe, as sipp and monitoring tools send it) is answered 200; every other
 * request gets "500 No Routing Script"; ACKs are absorbed.
 */
export function noEngineHandler(server: () => SipServer, logger: Logger): (req: SipRequest, info: ReceiveInfo) => void {
  const log = logger.child({ mod: 'no-engine' });
  return (req, info) => {
    if (req.method === 'ACK') return;
    const probe = req.method === 'OPTIONS' && !req.ruri.user;
    const [status, reason] = probe ? [200, 'OK'] : [500, 'No Routing Script'];
    server()
      .reply(req, info, status, reason)
      .catch((err: unknown) => log.warn({ err, callId: req.callId }, 'could not send reply'));
  };
}
