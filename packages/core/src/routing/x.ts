import type { KemiExportDef } from '../kemi/types.js';
import type { RouteContext } from './context.js';
import { ROUTE_EXIT } from './runtime.js';

/**
 * KSR.x: route control shared by every engine.
 *  - exit(): end the route here (like `exit` in a native route).
 *  - drop(): end the route and do not send the message of this route (the request branch, the
 *    reply, the onsend message).
 * Both end the route through the runtime's exit signal; a script that catches it (pcall,
 * try/except) is ended again at its next KSR call. KSR.x.modf is not offered (docs/compatibility.md).
 */
export const xExports: readonly KemiExportDef<RouteContext>[] = [
  {
    name: 'exit',
    returns: 'none',
    params: [],
    doc: 'End the route now.',
    fn: (ctx: RouteContext) => {
      ctx.exitRequested = true;
      throw ROUTE_EXIT;
    },
  },
  {
    name: 'drop',
    returns: 'none',
    params: [],
    doc: 'End the route now and do not send the message it handles.',
    fn: (ctx: RouteContext) => {
      ctx.dropRequested = true;
      ctx.exitRequested = true;
      throw ROUTE_EXIT;
    },
  },
];
