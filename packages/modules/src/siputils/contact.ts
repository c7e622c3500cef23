/**
 * Contact URI rewriting for siputils (encode_contact, decode_contact_header, contact_param_*):
 * every URI of the current Contact header fields goes through a function; the display name and
 * the header parameters of each contact are kept as written.
 */
import { sip, type SipUri } from '@ksr/core';
import { currentLines, setHeaderList, type SipMsg } from '../textops/hdrlist.js';

/** What a rewrite returns for one URI: a new URI text, undefined (unchanged), or an error. */
export type UriRewrite = (uri: SipUri) => string | undefined | Error;

/** Replace the URI inside one contact value (`"Name" <uri>;p`, `<uri>`, or a bare `uri;p`). */
export function replaceUri(value: string, newUri: string): string {
  let q = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (q) {
      if (c === '\\') i++;
      else if (c === '"') q = false;
    } else if (c === '"') q = true;
    else if (c === '<') {
      const close = value.indexOf('>', i + 1);
      if (close === -1) break;
      return `${value.slice(0, i + 1)}${newUri}${value.slice(close)}`;
    }
  }
  // addr-spec: the URI runs to the first ';' (what follows are header parameters)
  const semi = value.indexOf(';');
  return semi === -1 ? `<${newUri}>` : `<${newUri}>${value.slice(semi)}`;
}

export interface RewriteResult {
  /** Contacts seen (a `*` is not one). */
  seen: number;
  /** Contacts whose URI changed. */
  changed: number;
}

/**
 * Rewrite the URIs of all current Contact fields. Returns the counts, or an error text (nothing
 * changed) when a contact does not parse or the rewrite failed.
 */
export function rewriteContacts(msg: SipMsg, rewrite: UriRewrite): RewriteResult | string {
  const lines = currentLines(msg);
  let seen = 0;
  let changed = 0;
  const out = [...lines];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (sip.canonicalHeaderName(l.name) !== 'contact') continue;
    const values = sip.splitTopLevel(l.value).filter((v) => v.length > 0);
    const next: string[] = [];
    for (const v of values) {
      if (v === '*') {
        next.push(v);
        continue;
      }
      let na;
      try {
        na = sip.parseNameAddr(v);
      } catch (err) {
        return `invalid contact ${JSON.stringify(v)}: ${(err as Error).message}`;
      }
      seen++;
      const r = rewrite(na.uri);
      if (r instanceof Error) return r.message;
      if (r === undefined) {
        next.push(v);
        continue;
      }
      try {
        sip.parseUri(r);
      } catch (err) {
        return `the new contact URI ${JSON.stringify(r)} is invalid: ${(err as Error).message}`;
      }
      changed++;
      next.push(replaceUri(v, r));
    }
    out[i] = { name: l.name, value: next.join(', ') };
  }
  if (changed > 0) {
    try {
      setHeaderList(msg, out);
    } catch (err) {
      return (err as Error).message;
    }
  }
  return { seen, changed };
}
