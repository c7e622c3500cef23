/**
 * Small lexical helpers shared by the preprocessor and the parser.
 *
 * String rules follow the Kamailio config language: double-quoted strings know
 * a few C escapes, single-quoted strings are taken verbatim, both may span lines.
 */

export function isIdentStart(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z_]/.test(c);
}

export function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_]/.test(c);
}

/** A preprocessor identifier (`#!define` name, `#!ifdef` argument). */
export const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Decode the body of a double-quoted string (without the quotes).
 * Known escapes: \n \r \a \t \" \\ \xH[H] \ooo (2-3 octal digits), and a
 * backslash before a newline removes both. Any other backslash is kept as is
 * (so `"a\.b"` stays `a\.b`, handy for regular expressions).
 */
export function unescapeDoubleQuoted(body: string): string {
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\' || i + 1 >= body.length) {
      out += c;
      continue;
    }
    const n = body[i + 1]!;
    switch (n) {
      case 'n':
        out += '\n';
        i++;
        continue;
      case 'r':
        out += '\r';
        i++;
        continue;
      case 't':
        out += '\t';
        i++;
        continue;
      case 'a':
        out += '\x07';
        i++;
        continue;
      case '"':
        out += '"';
        i++;
        continue;
      case '\\':
        out += '\\';
        i++;
        continue;
      case '\n':
        i++;
        continue;
      case 'x': {
        const m = /^[0-9a-fA-F]{1,2}/.exec(body.slice(i + 2));
        if (m) {
          out += String.fromCharCode(parseInt(m[0], 16));
          i += 1 + m[0].length;
          continue;
        }
        out += c;
        continue;
      }
      default: {
        const m = /^[0-7]{2,3}/.exec(body.slice(i + 1));
        if (m) {
          out += String.fromCharCode(parseInt(m[0], 8) & 0xff);
          i += m[0].length;
          continue;
        }
        out += c;
        continue;
      }
    }
  }
  return out;
}

/** Inverse of unescapeDoubleQuoted for re-emitting a string as config text. */
export function quoteString(s: string): string {
  return (
    '"' +
    s
      .replace(/\\/g, '\\\\')
      .replace(/"/g, '\\"')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(/\t/g, '\\t') +
    '"'
  );
}

/**
 * Read one quoted string starting at `text[pos]` (a `"` or `'`).
 * Returns the decoded value and the index just after the closing quote,
 * or `end: -1` when the string is not terminated.
 */
export function readQuoted(text: string, pos: number): { value: string; end: number } {
  const q = text[pos];
  let i = pos + 1;
  while (i < text.length) {
    const c = text[i];
    if (q === '"' && c === '\\') {
      i += 2;
      continue;
    }
    if (c === q) {
      const body = text.slice(pos + 1, i);
      return { value: q === '"' ? unescapeDoubleQuoted(body) : body, end: i + 1 };
    }
    i++;
  }
  return { value: '', end: -1 };
}

/**
 * Remove a trailing `#` or `//` comment from a line fragment, ignoring
 * comment markers inside quoted strings.
 */
export function stripLineComment(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      const r = readQuoted(text, i);
      if (r.end < 0) return text;
      i = r.end - 1;
      continue;
    }
    if (c === '#') return text.slice(0, i);
    if (c === '/' && text[i + 1] === '/') return text.slice(0, i);
  }
  return text;
}

/** If `text` (trimmed) is exactly one quoted string, return its decoded value. */
export function unquoteWhole(text: string): string | undefined {
  const t = text.trim();
  if (t[0] !== '"' && t[0] !== "'") return undefined;
  const r = readQuoted(t, 0);
  if (r.end !== t.length) return undefined;
  return r.value;
}
