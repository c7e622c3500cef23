import { ErrorCodes, KsrError } from '../errors.js';
import { KEMI_PARAMS_MAX, type KemiExport, type KemiExportDef } from './types.js';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PARAM_TYPES = new Set(['int', 'str', 'long']);
const RETURN_TYPES = new Set(['int', 'bool', 'xval', 'none']);

function qualifiedName(module: string, name: string): string {
  return module === '' ? `KSR.${name}` : `KSR.${module}.${name}`;
}

/**
 * The one registry of KSR functions. Modules add their export tables while the server is being
 * put together; then the registry is frozen, and only the frozen view is handed to engines.
 * Ids are dense (0..n-1) in registration order and never change for the life of the process.
 */
export class KemiRegistry<Ctx = unknown> {
  private readonly list: KemiExport<Ctx>[] = [];
  private readonly byQualified = new Map<string, KemiExport<Ctx>>();
  private readonly moduleOrder: string[] = [];
  private frozenView: FrozenKemiRegistry<Ctx> | undefined;

  get isFrozen(): boolean {
    return this.frozenView !== undefined;
  }

  /**
   * Add a module's export table. `module` "" is the core (`KSR.name`). A module is added once;
   * its table is validated as a whole before anything is registered, so a bad table leaves the
   * registry unchanged.
   */
  addModule(module: string, defs: readonly KemiExportDef<Ctx>[]): void {
    if (this.frozenView) {
      throw new KsrError(ErrorCodes.KEMI_FROZEN, `cannot register KSR.${module || '<core>'}: the KEMI registry is frozen`);
    }
    if (module !== '' && !NAME_RE.test(module)) {
      throw new KsrError(ErrorCodes.KEMI_INVALID, `invalid KEMI module name '${module}'`);
    }
    if (this.moduleOrder.includes(module)) {
      throw new KsrError(ErrorCodes.KEMI_DUPLICATE, `KEMI module '${module || '<core>'}' is already registered`);
    }
    const seen = new Set<string>();
    for (const d of defs) {
      const q = qualifiedName(module, d.name);
      if (!NAME_RE.test(d.name)) throw new KsrError(ErrorCodes.KEMI_INVALID, `${q}: invalid function name`);
      if (module === '' && this.isModuleName(d.name)) {
        throw new KsrError(ErrorCodes.KEMI_DUPLICATE, `${q}: clashes with the module KSR.${d.name}`);
      }
      if (seen.has(d.name) || this.byQualified.has(q)) throw new KsrError(ErrorCodes.KEMI_DUPLICATE, `${q} is registered twice`);
      seen.add(d.name);
      if (!RETURN_TYPES.has(d.returns)) throw new KsrError(ErrorCodes.KEMI_INVALID, `${q}: unknown return type '${String(d.returns)}'`);
      if (d.params.length > KEMI_PARAMS_MAX) {
        throw new KsrError(ErrorCodes.KEMI_INVALID, `${q}: ${d.params.length} parameters (at most ${KEMI_PARAMS_MAX})`);
      }
      for (const p of d.params) {
        if (!PARAM_TYPES.has(p)) throw new KsrError(ErrorCodes.KEMI_INVALID, `${q}: unknown parameter type '${String(p)}'`);
      }
      if (typeof d.fn !== 'function') throw new KsrError(ErrorCodes.KEMI_INVALID, `${q}: fn is not a function`);
    }
    if (module !== '') {
      const core = this.list.find((e) => e.module === '' && e.name === module);
      if (core) throw new KsrError(ErrorCodes.KEMI_DUPLICATE, `module KSR.${module} clashes with the core function ${core.qualified}`);
    }
    this.moduleOrder.push(module);
    for (const d of defs) {
      const exp: KemiExport<Ctx> = Object.freeze({ ...d, id: this.list.length, module, qualified: qualifiedName(module, d.name) });
      this.list.push(exp);
      this.byQualified.set(exp.qualified, exp);
    }
  }

  private isModuleName(name: string): boolean {
    return this.moduleOrder.includes(name);
  }

  /** Freeze (idempotent) and return the view engines bind. */
  freeze(): FrozenKemiRegistry<Ctx> {
    if (!this.frozenView) {
      this.frozenView = new FrozenKemiRegistry(Object.freeze([...this.list]), Object.freeze([...this.moduleOrder]), this.byQualified);
    }
    return this.frozenView;
  }
}

/** The read-only registry engines bind: exports by dense id, grouped by module. */
export class FrozenKemiRegistry<Ctx = unknown> {
  private readonly groups = new Map<string, readonly KemiExport<Ctx>[]>();

  constructor(
    /** Index = export id. */
    readonly exports: readonly KemiExport<Ctx>[],
    /** Module names in registration order; "" is the core. */
    readonly modules: readonly string[],
    private readonly byQualified: ReadonlyMap<string, KemiExport<Ctx>>,
  ) {
    for (const m of modules) this.groups.set(m, Object.freeze(exports.filter((e) => e.module === m)));
  }

  exportsOf(module: string): readonly KemiExport<Ctx>[] {
    return this.groups.get(module) ?? [];
  }

  find(module: string, name: string): KemiExport<Ctx> | undefined {
    return this.byQualified.get(qualifiedName(module, name));
  }

  /** Kamailio's `api_list` shape: every export with module, name, return and parameter types. */
  apiList(): { msize: number; methods: Array<{ func: { ret: string; module: string; name: string; params: string } }> } {
    return {
      msize: this.exports.length,
      methods: this.exports.map((e) => ({
        func: { ret: e.returns, module: e.module, name: e.name, params: e.params.length === 0 ? 'none' : e.params.join(', ') },
      })),
    };
  }
}
