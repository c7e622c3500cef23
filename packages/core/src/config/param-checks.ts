/**
 * Ready-made `check` functions for module parameter schemas (ModuleParamSpec.check): they return
 * the error text the config loader prints after file:line, or undefined when the value is fine.
 */

/** An integer between min and max (inclusive); numeric strings count. */
export function intInRange(min: number, max: number): (v: string | number) => string | undefined {
  return (v) => {
    const n = typeof v === 'number' ? v : Number(String(v).trim());
    if (!Number.isInteger(n) || n < min || n > max) return `expected an integer between ${min} and ${max}, got ${String(v)}`;
    return undefined;
  };
}

/** A string that is not empty or blank; `what` names it in the error ("path", "string"). */
export function nonEmpty(what = 'string'): (v: string | number) => string | undefined {
  return (v) => (typeof v === 'string' && v.trim() !== '' ? undefined : `expected a non-empty ${what}`);
}
