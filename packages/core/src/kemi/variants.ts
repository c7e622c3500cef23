import { applyNullMode, type NullMode } from './convention.js';
import type { KemiExportDef, KemiParamType, KemiXval } from './types.js';

/**
 * Build the get/gete/getw family of an xval getter from one function: the same lookup, three
 * null modes (null, "", "<<null>>"). `names` maps each mode to its export name, e.g.
 * { null: 'get', empty: 'gete', print: 'getw' } or { null: 'get_idx', empty: 'gete_idx', print: 'getw_idx' }.
 */
export function getterVariants<Ctx>(
  names: Partial<Record<NullMode, string>>,
  params: readonly KemiParamType[],
  fn: (ctx: Ctx, ...args: never[]) => KemiXval | undefined,
  doc?: string,
  paramNames?: readonly string[],
): KemiExportDef<Ctx>[] {
  const out: KemiExportDef<Ctx>[] = [];
  for (const [mode, name] of Object.entries(names) as Array<[NullMode, string]>) {
    const call = fn as (ctx: Ctx, ...args: unknown[]) => KemiXval | undefined;
    const modeDoc = mode === 'null' ? 'null when absent' : mode === 'empty' ? '"" when absent' : mode === 'print' ? '"<<null>>" when absent' : '0 when absent';
    out.push({
      name,
      returns: 'xval',
      params,
      fn: (ctx: Ctx, ...args: unknown[]) => applyNullMode(call(ctx, ...args), mode),
      doc: doc ? `${doc} (${modeDoc})` : modeDoc,
      ...(paramNames ? { paramNames } : {}),
    });
  }
  return out;
}
