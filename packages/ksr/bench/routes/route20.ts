// The fixed ~20-call route of the route micro-benchmark, as a plain TypeScript engine script.
/* eslint-disable @typescript-eslint/no-explicit-any */
export default function (KSR: any): Record<string, unknown> {
  return {
    ksr_request_route(): number {
      let n = 0;
      if (KSR.is_INVITE()) n++;
      if (KSR.is_method_in('IR')) n++;
      if (KSR.is_myself_ruri()) n++;
      if (KSR.hdr.is_present('Contact') > 0) n++;
      KSR.pv.get('$ru');
      const fu = KSR.pv.get('$fU');
      KSR.pv.get('$si');
      KSR.pv.get('$ci');
      KSR.hdr.get('User-Agent');
      KSR.pv.get('$tt');
      KSR.setflag(2);
      if (KSR.isflagset(2)) n++;
      KSR.pv.sets('$var(user)', fu);
      KSR.pv.seti('$var(n)', n);
      const m = KSR.pv.geti('$var(n)');
      if (!KSR.isdsturiset()) KSR.setdsturi('sip:127.0.0.1:5080');
      KSR.resetdsturi();
      if (KSR.is_REGISTER()) n++;
      KSR.resetflag(2);
      return m;
    },
  };
}
