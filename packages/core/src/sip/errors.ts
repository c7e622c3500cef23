/**
 * The only exception `parseMessage` (and the other parse functions) may raise.
 * `reason` is a short human-readable cause; `message === reason`.
 *
 * src/sip imports nothing else of ours, so this class lives here; its code is
 * also listed in src/errors.ts (`ErrorCodes.SIP_PARSE`).
 */
export class SipParseError extends Error {
  readonly code = 'KSR_ERR_SIP_PARSE' as const;
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = 'SipParseError';
    this.reason = reason;
  }
}

/** Quote a (possibly long, possibly binary) fragment for an error reason. */
export function quote(s: string, max = 60): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}
