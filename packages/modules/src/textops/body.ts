/**
 * Body helpers: MIME types, multipart bodies (RFC 2046 §5.1) and SDP hold detection.
 */

/** "Type/Subtype; params" → "type/subtype" (lowercase), or undefined when malformed. */
export function mimeType(ct: string | undefined): string | undefined {
  if (ct === undefined) return undefined;
  const t = ct.split(';', 1)[0]!.trim().toLowerCase();
  return /^[^\s/]+\/[^\s/]+$/.test(t) ? t : undefined;
}

/** Does a Content-Type value match a type given by the script ("application/sdp", "*\/*", "text/*")? */
export function mimeMatches(ct: string | undefined, want: string): boolean {
  const a = mimeType(ct);
  const b = mimeType(want);
  if (!a || !b) return false;
  const [at, as] = a.split('/') as [string, string];
  const [bt, bs] = b.split('/') as [string, string];
  return (bt === '*' || bt === at) && (bs === '*' || bs === as);
}

/** The boundary parameter of a multipart Content-Type. */
export function boundaryOf(ct: string | undefined): string | undefined {
  if (!ct || !mimeType(ct)?.startsWith('multipart/')) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(ct);
  return m ? (m[1] ?? m[2]) : undefined;
}

export interface BodyPart {
  /** The part's header lines as written (without the empty line). */
  headers: Array<[string, string]>;
  /** The part's content (between the empty line and the CRLF before the next delimiter). */
  content: Buffer;
  /** From the delimiter line to the end of the content. */
  raw: Buffer;
}

export interface Multipart {
  boundary: string;
  parts: BodyPart[];
}

/** The value of a part header (case-insensitive name). */
export function partHeader(p: BodyPart, name: string): string | undefined {
  const n = name.toLowerCase();
  return p.headers.find(([k]) => k.toLowerCase() === n)?.[1];
}

/** Split a multipart body; undefined when it is not one (no delimiter found). */
export function parseMultipart(body: Buffer, boundary: string): Multipart | undefined {
  const text = body.toString('latin1');
  const delim = `--${boundary}`;
  // delimiter lines: at the start of the body or after a line end
  const starts: number[] = [];
  let i = text.startsWith(delim) ? 0 : -1;
  if (i === -1) {
    const j = text.indexOf(`\n${delim}`);
    i = j === -1 ? -1 : j + 1;
  }
  while (i !== -1) {
    starts.push(i);
    const j = text.indexOf(`\n${delim}`, i + delim.length);
    i = j === -1 ? -1 : j + 1;
  }
  if (starts.length === 0) return undefined;
  const parts: BodyPart[] = [];
  for (let k = 0; k < starts.length; k++) {
    const s = starts[k]!;
    if (text.startsWith(`${delim}--`, s)) break; // close delimiter
    const lineEnd = text.indexOf('\n', s);
    if (lineEnd === -1) break;
    const next = starts[k + 1];
    // content ends before the CRLF that precedes the next delimiter
    let end = next === undefined ? text.length : next - 1;
    if (next !== undefined && text[end - 1] === '\r') end--;
    const seg = text.slice(lineEnd + 1, end);
    const hdrEnd = /\r?\n\r?\n/.exec(seg);
    let headers: Array<[string, string]> = [];
    let contentStart = 0;
    if (seg.startsWith('\r\n') || seg.startsWith('\n')) contentStart = seg.startsWith('\r\n') ? 2 : 1;
    else if (hdrEnd) {
      headers = seg
        .slice(0, hdrEnd.index)
        .split(/\r?\n/)
        .filter((x) => x.length > 0)
        .map((x): [string, string] => {
          const c = x.indexOf(':');
          return c === -1 ? [x.trim(), ''] : [x.slice(0, c).trim(), x.slice(c + 1).trim()];
        });
      contentStart = hdrEnd.index + hdrEnd[0].length;
    } else contentStart = seg.length;
    parts.push({
      headers,
      content: Buffer.from(seg.slice(contentStart), 'latin1'),
      raw: Buffer.from(text.slice(s, end), 'latin1'),
    });
  }
  return { boundary, parts };
}

/** Build a multipart body: each part, then the close delimiter. */
export function buildMultipart(boundary: string, parts: readonly BodyPart[]): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const head = p.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
    out.push(Buffer.from(`--${boundary}\r\n${head}\r\n`, 'latin1'), p.content, Buffer.from('\r\n', 'latin1'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(out);
}

/** A part built from a script's text. */
export function newPart(content: Buffer, contentType: string, disposition?: string): BodyPart {
  const headers: Array<[string, string]> = [['Content-Type', contentType]];
  if (disposition) headers.push(['Content-Disposition', disposition]);
  return { headers, content, raw: Buffer.alloc(0) };
}

/**
 * The SDP of a body: the body itself for application/sdp, else the first application/sdp part
 * of a multipart body.
 */
export function sdpOf(body: Buffer, ct: string | undefined): string | undefined {
  if (body.length === 0) return undefined;
  if (mimeMatches(ct, 'application/sdp')) return body.toString('latin1');
  const b = boundaryOf(ct);
  if (!b) return undefined;
  const mp = parseMultipart(body, b);
  const p = mp?.parts.find((x) => mimeMatches(partHeader(x, 'content-type'), 'application/sdp'));
  return p?.content.toString('latin1');
}

/**
 * Hold detection (textops is_audio_on_hold): 1 when an audio stream has a null connection
 * address (RFC 2543 hold: c=IN IP4 0.0.0.0, or ::), 2 when it is sendonly or inactive (RFC 3264;
 * a media-level direction overrides the session-level one), -1 when no audio stream is on hold.
 */
export function audioHold(sdp: string): number {
  const lines = sdp.split(/\r?\n/);
  let sessionC: string | undefined;
  let sessionDir: string | undefined;
  let i = 0;
  for (; i < lines.length && !lines[i]!.startsWith('m='); i++) {
    const l = lines[i]!;
    if (l.startsWith('c=')) sessionC = l.slice(2).trim();
    else if (/^a=(sendonly|inactive|sendrecv|recvonly)\s*$/.test(l)) sessionDir = l.slice(2).trim();
  }
  while (i < lines.length) {
    const m = lines[i]!;
    let c: string | undefined;
    let dir: string | undefined;
    i++;
    for (; i < lines.length && !lines[i]!.startsWith('m='); i++) {
      const l = lines[i]!;
      if (l.startsWith('c=')) c = l.slice(2).trim();
      else if (/^a=(sendonly|inactive|sendrecv|recvonly)\s*$/.test(l)) dir = l.slice(2).trim();
    }
    if (!/^m=audio\s/i.test(m)) continue;
    const conn = (c ?? sessionC ?? '').split(/\s+/);
    const addr = conn[2]?.split('/')[0];
    if (addr === '0.0.0.0' || addr === '::') return 1;
    const d = dir ?? sessionDir;
    if (d === 'sendonly' || d === 'inactive') return 2;
  }
  return -1;
}
