/**
 * xlog: formatted log messages from the script (Kamailio's xlog module). The format's
 * pseudo-variables ($ru, $var(x), $(hdr(Via)[0]), …) are replaced by their values, one trailing
 * newline is removed, and the message goes to the script logger at the matching level with
 * `src: "script"` (plus `slevel` for the Kamailio levels pino lacks: alert, bug, crit, notice).
 *
 * KEMI: xdbg, xinfo, xnotice, xwarn, xerr, xbug, xcrit, xalert (format) and xlog(level, format),
 * all returning 1 (-1 for an invalid format or level). Levels: "L_ALERT" -5, "L_BUG" -4,
 * "L_CRIT" -3, "L_ERR" -1, "L_WARN" 0, "L_NOTICE" 1, "L_INFO" 2, "L_DBG" 3 (as in Kamailio only
 * the third letter counts), a number, or a pseudo-variable holding a number.
 */
import { PvNameError, defineModule, type KemiExportDef, type Logger, type RouteContext } from '@ksr/core';
import { FormatCache, renderFormat, type CompiledFormat } from './format.js';

type Def = KemiExportDef<RouteContext>;

type PinoLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export type XlogLevel = 'alert' | 'bug' | 'crit' | 'err' | 'warn' | 'notice' | 'info' | 'dbg';

const PINO: Readonly<Record<XlogLevel, PinoLevel>> = {
  alert: 'fatal',
  bug: 'fatal',
  crit: 'fatal',
  err: 'error',
  warn: 'warn',
  notice: 'info',
  info: 'info',
  dbg: 'debug',
};

/** Levels that pino has no name for: logged with `slevel` so they can be told apart. */
const TAGGED = new Set<XlogLevel>(['alert', 'bug', 'crit', 'notice']);

const BY_LETTER: Readonly<Record<string, XlogLevel>> = {
  A: 'alert',
  B: 'bug',
  C: 'crit',
  E: 'err',
  W: 'warn',
  N: 'notice',
  I: 'info',
  D: 'dbg',
};

/** A Kamailio debug number as an xlog level. */
export function levelFromNumber(n: number): XlogLevel {
  if (n <= -5) return 'alert';
  if (n === -4) return 'bug';
  if (n <= -2) return 'crit';
  if (n === -1) return 'err';
  if (n === 0) return 'warn';
  if (n === 1) return 'notice';
  if (n === 2) return 'info';
  return 'dbg';
}

/** "L_ERR" (third letter), "-1"; undefined when it names no level. */
export function parseLevelName(s: string): XlogLevel | undefined {
  const t = s.trim();
  if (/^[+-]?\d{1,3}$/.test(t)) return levelFromNumber(Number(t));
  if (t.length >= 3 && (t[0] === 'L' || t[0] === 'l') && t[1] === '_') return BY_LETTER[t[2]!.toUpperCase()];
  return undefined;
}

function stripLineEnd(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  if (s.endsWith('\n')) return s.slice(0, -1);
  return s;
}

export const xlogModule = defineModule({
  name: 'xlog',
  params: {
    buf_size: { type: 'int', check: (v) => (Number(v) >= 64 ? undefined : 'must be at least 64') },
    prefix: { type: 'str' },
    prefix_mode: { type: 'int', check: (v) => (v === 0 || v === 1 ? undefined : 'must be 0 or 1') },
    force_color: { type: 'int' },
    long_format: { type: 'int' },
    log_facility: { type: 'str' },
    log_colors: { type: 'str', multi: true },
    methods_filter: { type: 'int' },
  },
  create(ctx) {
    const log = ctx.logger;
    const p = ctx.params;
    const bufSize = p.int('buf_size', 4096);
    const prefixText = p.str('prefix', '');
    const prefixMode = p.int('prefix_mode', 0);
    const formats = new FormatCache(ctx.pv);
    for (const ignored of ['force_color', 'long_format', 'log_facility', 'log_colors']) {
      if (p.has(ignored)) log.debug(`modparam xlog ${ignored}: has no effect in ksr (logs are structured, not syslog lines)`);
    }

    let prefixFormat: CompiledFormat | undefined;
    if (prefixMode === 1 && prefixText !== '') {
      const f = formats.get(prefixText);
      if (f instanceof PvNameError) throw new Error(`modparam xlog prefix: ${f.message}`);
      prefixFormat = f;
    }

    const write = (c: RouteContext, level: XlogLevel, fmt: string, fname: string): number => {
      const f = formats.get(fmt);
      if (f instanceof PvNameError) {
        log.error(`KSR.xlog.${fname}: ${f.message}`);
        return -1;
      }
      const logger: Logger = c.logger;
      const pl = PINO[level];
      if (!logger.isLevelEnabled(pl)) return 1;
      let msg = stripLineEnd(f.literal ? fmt : renderFormat(f, c));
      const prefix = prefixFormat ? renderFormat(prefixFormat, c) : prefixText;
      if (prefix) msg = prefix + msg;
      if (msg.length > bufSize) msg = `${msg.slice(0, bufSize)}…`;
      logger[pl](TAGGED.has(level) ? { src: 'script', slevel: level } : { src: 'script' }, msg);
      return 1;
    };

    const fixed = (name: string, level: XlogLevel, what: string): Def => ({
      name,
      returns: 'int',
      params: ['str'],
      paramNames: ['format'],
      doc: `Log a formatted message (pseudo-variables replaced) at ${what} level. 1 ok, -1 invalid format.`,
      fn: (c: RouteContext, fmt: string) => write(c, level, fmt, name),
    });

    const exports: Def[] = [
      fixed('xdbg', 'dbg', 'DEBUG'),
      fixed('xinfo', 'info', 'INFO'),
      fixed('xnotice', 'notice', 'NOTICE'),
      fixed('xwarn', 'warn', 'WARNING'),
      fixed('xerr', 'err', 'ERROR'),
      fixed('xbug', 'bug', 'BUG'),
      fixed('xcrit', 'crit', 'CRITICAL'),
      fixed('xalert', 'alert', 'ALERT'),
      {
        name: 'xlog',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['level', 'format'],
        doc: 'Log a formatted message at a level: "L_ALERT", "L_BUG", "L_CRIT", "L_ERR", "L_WARN", "L_NOTICE", "L_INFO", "L_DBG", a number, or a pseudo-variable holding one. 1 ok, -1 invalid.',
        fn: (c: RouteContext, levelText: string, fmt: string) => {
          let level: XlogLevel | undefined;
          const t = levelText.trim();
          if (t.startsWith('$')) {
            const acc = ctx.pv.lookup(t);
            const v = acc instanceof PvNameError ? null : acc.get(c);
            const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : undefined;
            if (n === undefined) {
              log.error(`KSR.xlog.xlog: the level ${JSON.stringify(levelText)} does not hold a number${acc instanceof PvNameError ? ` (${acc.message})` : ''}`);
              return -1;
            }
            level = levelFromNumber(n);
          } else level = parseLevelName(t);
          if (!level) {
            log.error(`KSR.xlog.xlog: unknown level ${JSON.stringify(levelText)} (L_ALERT, L_BUG, L_CRIT, L_ERR, L_WARN, L_NOTICE, L_INFO, L_DBG or a number)`);
            return -1;
          }
          return write(c, level, fmt, 'xlog');
        },
      },
    ];
    return { exports };
  },
});
