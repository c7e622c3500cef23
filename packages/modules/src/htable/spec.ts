/**
 * The `htable` modparam: `name=>attr=value;attr=value;…` (Kamailio's table definition).
 *
 * Attributes with a meaning here: autoexpire, initval, updateexpire. Accepted for
 * compatibility without effect: size (tables grow as needed), dbtable, cols, dbmode, coldelim,
 * colnull, reloadat (no database loading), dmqreplicate (no DMQ). Anything else is an error, as
 * in Kamailio.
 */

export interface HtableSpec {
  readonly name: string;
  /** Seconds an item lives after its last update (updateexpire) or creation; 0 = forever. */
  readonly autoexpire: number;
  /** The integer a missing item reads as (and $shtinc / sht_inc start from); undefined = null. */
  readonly initval: number | undefined;
  /** Whether updating an item restarts its autoexpire time (default true). */
  readonly updateexpire: boolean;
  /** Accepted without effect (Kamailio: 2^size hash slots). */
  readonly size: number;
  readonly dmqreplicate: boolean;
  readonly dbtable: string | undefined;
  readonly dbmode: number;
}

/** Table names as Kamailio reads them: up to '=' or white space. */
const TABLE_NAME = /^[^\s=$()]+$/;
const UINT = /^\d{1,10}$/;
const SINT = /^[+-]?\d{1,15}$/;

function uint(spec: string, attr: string, v: string): number {
  if (!UINT.test(v)) throw new Error(`htable ${JSON.stringify(spec)}: ${attr} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Split `a=1;b="x;y";c` at the semicolons outside quotes. */
function splitParams(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of s) {
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Parse one definition. Throws an Error whose message names the problem. */
export function parseHtableSpec(text: string): HtableSpec {
  const arrow = text.indexOf('=>');
  if (arrow === -1) throw new Error(`htable ${JSON.stringify(text)}: expected "name=>attr=value;…"`);
  const name = text.slice(0, arrow).trim();
  if (!TABLE_NAME.test(name)) throw new Error(`htable ${JSON.stringify(text)}: bad table name ${JSON.stringify(name)}`);
  let autoexpire = 0;
  let initval: number | undefined;
  let updateexpire = true;
  let size = 4;
  let dmqreplicate = false;
  let dbtable: string | undefined;
  let dbmode = 0;
  for (const raw of splitParams(text.slice(arrow + 2))) {
    const p = raw.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    const attr = (eq === -1 ? p : p.slice(0, eq)).trim();
    const value = eq === -1 ? '' : unquote(p.slice(eq + 1).trim());
    switch (attr) {
      case 'autoexpire':
        autoexpire = uint(text, attr, value);
        break;
      case 'size':
        size = uint(text, attr, value);
        break;
      case 'initval':
        if (!SINT.test(value)) throw new Error(`htable ${JSON.stringify(text)}: initval must be an integer, got ${JSON.stringify(value)}`);
        initval = Number(value);
        break;
      case 'updateexpire':
        updateexpire = uint(text, attr, value) !== 0;
        break;
      case 'dmqreplicate':
        dmqreplicate = uint(text, attr, value) !== 0;
        break;
      case 'dbtable':
        dbtable = value === '' ? undefined : value;
        break;
      case 'dbmode':
        dbmode = uint(text, attr, value);
        break;
      case 'reloadat':
        uint(text, attr, value);
        break;
      case 'cols':
        break;
      case 'coldelim':
      case 'colnull':
        if (value.length > 1) throw new Error(`htable ${JSON.stringify(text)}: ${attr} must be one character`);
        break;
      default:
        throw new Error(`htable ${JSON.stringify(text)}: unknown attribute ${JSON.stringify(attr)}`);
    }
  }
  return { name, autoexpire, initval, updateexpire, size, dmqreplicate, dbtable, dbmode };
}
