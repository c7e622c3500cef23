import { ErrorCodes, KsrError, parseDefineArg } from '@ksr/core';

export interface CliOptions {
  configFile: string;
  defines: Record<string, string | null>;
  /** -E: log to stderr (else stdout). */
  logStderr: boolean;
  /** Number of -d given (each raises the log level by one step). */
  debugIncrements: number;
  /** -c: check the configuration and exit. */
  checkOnly: boolean;
  /** -l: listen addresses that replace the config's listen= lines. */
  listen: string[];
  help: boolean;
  version: boolean;
  /** Options accepted for Kamailio command-line compatibility that have no effect here. */
  ignored: string[];
}

export const USAGE = `Usage: ksr [options]

  -f FILE        configuration file (kamailio.cfg syntax; default ./ksr.cfg)
  -A NAME[=VAL]  define a preprocessor name, like '#!define NAME VAL' (repeatable)
  -l ADDRESS     listen on ADDRESS instead of the config's listen= lines
                 ([proto:]addr[:port], repeatable; e.g. udp:127.0.0.1:5060)
  -c             check the configuration file and exit
  -E             log to stderr (default: stdout)
  -d             raise the log level one step (repeatable: -dd, -ddd)
  -D             accepted for Kamailio compatibility (ksr always stays in the foreground)
  -m N, -M N     accepted for Kamailio compatibility (memory sizes; no effect)
  -Y DIR         accepted for Kamailio compatibility (runtime directory; no effect)
  -x NAME        accepted for Kamailio compatibility (memory manager; no effect)
  -h, --help     this help
  -v, --version  print the version

Database (Kamailio's schema; SQLite file or PostgreSQL; see 'ksr db --help'):
  ksr db init [-f FILE | --db-url URL]          create the tables (like kamdbctl create)
  ksr user add|passwd USER@DOMAIN PASSWORD      add a subscriber / change its password
  ksr user rm USER@DOMAIN, ksr user list        (like kamctl add / passwd / rm)

Control (the jsonrpcs module; see 'ksr ctl --help' and docs/operations.md):
  ksr ctl METHOD [PARAMS…]                      call an RPC command (like kamcmd), e.g. core.uptime

Logs are human-readable on a terminal and JSON lines otherwise.
SIGTERM or SIGINT closes the sockets and stops the server.`;

function usageError(message: string): KsrError {
  return new KsrError(ErrorCodes.USAGE, message);
}

/** Parse Kamailio-style command-line options. Throws KsrError(USAGE) on a mistake. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const opts: CliOptions = {
    configFile: 'ksr.cfg',
    defines: {},
    logStderr: false,
    debugIncrements: 0,
    checkOnly: false,
    listen: [],
    help: false,
    version: false,
    ignored: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help') {
      opts.help = true;
      continue;
    }
    if (arg === '--version') {
      opts.version = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-' || arg.startsWith('--')) throw usageError(`unknown argument '${arg}'`);
    // a cluster of single-letter flags, the last of which may take a value: -dd, -DDE, -fksr.cfg
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j]!;
      const takesValue = 'fAlmMYx'.includes(flag);
      if (takesValue) {
        let value = arg.slice(j + 1);
        if (value === '') {
          const next = argv[i + 1];
          if (next === undefined) throw usageError(`option -${flag} needs a value`);
          value = next;
          i++;
        }
        switch (flag) {
          case 'f':
            opts.configFile = value;
            break;
          case 'A': {
            let def: { name: string; value: string | null };
            try {
              def = parseDefineArg(value);
            } catch (err) {
              throw usageError(`-A: ${(err as Error).message}`);
            }
            opts.defines[def.name] = def.value;
            break;
          }
          case 'l':
            opts.listen.push(value);
            break;
          case 'm':
          case 'M':
            if (!/^\d+$/.test(value)) throw usageError(`-${flag} needs a number`);
            opts.ignored.push(`-${flag} ${value}`);
            break;
          case 'Y':
          case 'x':
            opts.ignored.push(`-${flag} ${value}`);
            break;
        }
        break; // the value consumed the rest of this argument
      }
      switch (flag) {
        case 'E':
          opts.logStderr = true;
          break;
        case 'd':
          opts.debugIncrements++;
          break;
        case 'c':
          opts.checkOnly = true;
          break;
        case 'D':
          break; // foreground flags: ksr never daemonizes
        case 'h':
          opts.help = true;
          break;
        case 'v':
        case 'V':
          opts.version = true;
          break;
        default:
          throw usageError(`unknown option -${flag}`);
      }
    }
  }
  return opts;
}
