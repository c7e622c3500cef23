/**
 * ksr SIP message layer: parser, URI/name-addr/Via parsers, edit lumps and
 * serialization, locally generated replies. Imports nothing else of ours.
 * See README.md in this directory.
 */
export { SipParseError } from './errors.js';
export { parseMessage, parseCSeq, DEFAULT_LIMITS, type ParseLimits, type ParseOptions } from './parser.js';
export { parseUri, uriEquals, isIPv4, isIPv6, type SipUri, type HostType } from './uri.js';
export { parseNameAddr, parseRouteParam, type NameAddr } from './nameaddr.js';
export { parseVia, type Via } from './via.js';
export {
  SipMessage,
  SipRequest,
  SipResponse,
  isRequest,
  type HeaderField,
  type CSeq,
  type ContactList,
  type SerializeOptions,
} from './message.js';
export { buildReply, buildReplyBytes, reasonPhrase, type ReplyOptions } from './reply.js';
export { generateTag, generateBranch, MAGIC_COOKIE } from './ids.js';
export { canonicalHeaderName, isListHeader, LIST_HEADERS, splitTopLevel } from './headers.js';
