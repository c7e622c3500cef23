/**
 * Decoder for RFC 4475's message notation (RFC 4475 §2), used to turn
 * `test/fixtures/torture/rfc4475-messages.txt` into the byte-exact `.sip` fixtures.
 *
 *  - every line of a message is terminated by CRLF;
 *  - `<allOneLine>` / `</allOneLine>` (each alone on a line) join the enclosed lines
 *    into one line with nothing inserted (§2.1);
 *  - `<hex>..</hex>` is raw octets as hex digits (§2.2);
 *  - `<repeat count=N>text</repeat>` repeats text N times (§2.3).
 *
 * The source file groups messages in blocks that start with
 * `%%% <name> <valid|invalid|application> <section>`.
 */

export type TortureClass = 'valid' | 'invalid' | 'application';

export interface TortureMessage {
  name: string;
  cls: TortureClass;
  /** RFC 4475 section number, e.g. "3.1.1.1". */
  section: string;
  bytes: Buffer;
}

const CLASSES: readonly string[] = ['valid', 'invalid', 'application'];

/** Expands `<repeat>` and `<hex>` in one logical line into octets. */
export function decodeLine(line: string): Buffer {
  const expanded = line.replace(/<repeat count=(\d+)>(.*?)<\/repeat>/g, (_m, n: string, text: string) =>
    text.repeat(Number(n)),
  );
  const parts: Buffer[] = [];
  const re = /<hex>([0-9A-Fa-f\s]*)<\/hex>/g;
  let last = 0;
  for (let m = re.exec(expanded); m !== null; m = re.exec(expanded)) {
    parts.push(Buffer.from(expanded.slice(last, m.index), 'utf8'));
    const hex = (m[1] ?? '').replace(/\s+/g, '');
    if (hex.length % 2 !== 0) throw new Error(`odd number of hex digits in ${JSON.stringify(line)}`);
    parts.push(Buffer.from(hex, 'hex'));
    last = m.index + m[0].length;
  }
  const rest = expanded.slice(last);
  if (rest.includes('<hex>') || rest.includes('</hex>') || rest.includes('<repeat')) {
    throw new Error(`unbalanced notation in ${JSON.stringify(line)}`);
  }
  parts.push(Buffer.from(rest, 'utf8'));
  return Buffer.concat(parts);
}

/** Decodes the lines of one message block into the message octets. */
export function decodeBlock(lines: readonly string[]): Buffer {
  const logical: string[] = [];
  let joining: string[] | null = null;
  for (const line of lines) {
    if (line === '<allOneLine>') {
      if (joining) throw new Error('nested <allOneLine>');
      joining = [];
    } else if (line === '</allOneLine>') {
      if (!joining) throw new Error('</allOneLine> without <allOneLine>');
      logical.push(joining.join(''));
      joining = null;
    } else if (joining) {
      joining.push(line);
    } else {
      logical.push(line);
    }
  }
  if (joining) throw new Error('unterminated <allOneLine>');
  const crlf = Buffer.from('\r\n');
  return Buffer.concat(logical.flatMap((l) => [decodeLine(l), crlf]));
}

/** Parses the whole RFC-notation source file into messages. */
export function parseTortureSource(text: string): TortureMessage[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // the file's final newline
  const out: TortureMessage[] = [];
  let current: { name: string; cls: TortureClass; section: string; lines: string[] } | null = null;
  const flush = (): void => {
    if (current) out.push({ name: current.name, cls: current.cls, section: current.section, bytes: decodeBlock(current.lines) });
  };
  for (const line of lines) {
    const head = /^%%% (\S+) (\S+) (\S+)$/.exec(line);
    if (head) {
      flush();
      const [, name, cls, section] = head as unknown as [string, string, string, string];
      if (!CLASSES.includes(cls)) throw new Error(`unknown class ${cls} for ${name}`);
      current = { name, cls: cls as TortureClass, section, lines: [] };
    } else if (current) {
      current.lines.push(line);
    } else if (line !== '' && !line.startsWith('#')) {
      throw new Error(`text before the first message: ${JSON.stringify(line)}`);
    }
  }
  flush();
  return out;
}
