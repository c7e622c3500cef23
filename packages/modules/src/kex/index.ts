/**
 * kex: Kamailio's "core extensions" module. Its KEMI exports are setdebug(level) and resetdebug():
 * change the log level from the script (a Kamailio debug number: -5 alert … 2 info, 3 debug,
 * 4 and above trace) and go back to the configured one.
 *
 * Kamailio changes the level of the one process that runs the script; ksr routes in one worker,
 * so the level of the whole server changes (RouteServices.setDebugLevel).
 */
import { defineModule, type KemiExportDef, type RouteContext } from '@ksr/core';

type Def = KemiExportDef<RouteContext>;

/** The range of Kamailio debug numbers setdebug accepts (L_ALERT -5 … beyond L_DBG). */
export const DEBUG_MIN = -5;
export const DEBUG_MAX = 7;

export const kexModule = defineModule({
  name: 'kex',
  params: {},
  create(ctx) {
    const exports: Def[] = [
      {
        name: 'setdebug',
        returns: 'int',
        params: ['int'],
        paramNames: ['level'],
        doc: `Set the log level to a Kamailio debug number (${DEBUG_MIN}..${DEBUG_MAX}: 0 warn, 1 notice, 2 info, 3 debug). 1 ok, -1 invalid.`,
        fn: (c: RouteContext, level: number) => {
          if (!Number.isInteger(level) || level < DEBUG_MIN || level > DEBUG_MAX) {
            ctx.logger.error(`KSR.kex.setdebug: invalid debug level ${level} (${DEBUG_MIN}..${DEBUG_MAX})`);
            return -1;
          }
          c.services.setDebugLevel(level);
          return 1;
        },
      },
      {
        name: 'resetdebug',
        returns: 'int',
        params: [],
        doc: 'Restore the log level of the config (the `debug` global). 1.',
        fn: (c: RouteContext) => {
          c.services.setDebugLevel(undefined);
          return 1;
        },
      },
    ];
    return { exports };
  },
});
