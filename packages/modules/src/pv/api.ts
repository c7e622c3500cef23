/** What the RPC layer (pv.shvGet / pv.shvSet) gets from `running.modules.api('pv')`. */
import type { ScriptValue } from '@ksr/core';

export interface PvModuleApi {
  /** $shv(name): its value, or null when never set. */
  shvGet(name: string): ScriptValue | null;
  /** Every $shv set so far (RPC pv.shvGet without a name). */
  shvList(): Array<{ name: string; value: ScriptValue }>;
  /** Set $shv(name) (RPC pv.shvSet name int|str value). False for a bad name. */
  shvSet(name: string, value: ScriptValue): boolean;
}
