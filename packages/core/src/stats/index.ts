/**
 * Statistics: named counters grouped by module, Kamailio style (`sl:1xx_replies`,
 * `core:rcv_requests`), read by the RPC (`stats.get_statistics`) and the Prometheus exporter.
 * One registry per worker today; an interface so that N workers can sum theirs later.
 */
export interface Counter {
  readonly group: string;
  readonly name: string;
  inc(n?: number): void;
  readonly value: number;
  reset(): void;
}

export class StatsRegistry {
  private readonly counters = new Map<string, Counter>();

  /** The counter `group:name`, created on first use. */
  counter(group: string, name: string): Counter {
    const key = `${group}:${name}`;
    let c = this.counters.get(key);
    if (!c) {
      let value = 0;
      c = {
        group,
        name,
        inc: (n = 1) => {
          value += n;
        },
        get value() {
          return value;
        },
        reset: () => {
          value = 0;
        },
      };
      this.counters.set(key, c);
    }
    return c;
  }

  /** Every counter as `group:name` → value, optionally of one group. */
  snapshot(group?: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, c] of this.counters) if (group === undefined || c.group === group) out[k] = c.value;
    return out;
  }
}
