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

export interface StatEntry {
  readonly group: string;
  readonly name: string;
  readonly value: number;
  /**
   * False for gauges (current sizes, totals owned by another component: usrloc's table sizes, tm's
   * transaction counts) and counters marked with markNoReset (Kamailio's STAT_NO_RESET).
   */
  readonly resettable: boolean;
}

/**
 * Names Kamailio marks STAT_NO_RESET because they hold a current size: usrloc's registered_users
 * and <table>-users / -contacts (usrloc registers them as gauges; a counter of the same name, e.g.
 * from another store, is kept out of a reset too).
 */
function DEFAULT_NO_RESET(group: string, name: string): boolean {
  return group === 'usrloc' && (name === 'registered_users' || name.endsWith('-users') || name.endsWith('-contacts'));
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

  private readonly gauges = new Map<string, { group: string; name: string; read: () => number }>();
  private readonly noReset = new Set<string>();

  /**
   * A statistic computed on read (Kamailio's STAT_IS_FUNC: memory, sizes of tables). Never reset;
   * registering the same name again replaces the reader.
   */
  gauge(group: string, name: string, read: () => number): void {
    this.gauges.set(`${group}:${name}`, { group, name, read });
  }

  /** Keep a counter out of stats.reset_statistics (Kamailio's STAT_NO_RESET: current sizes). */
  markNoReset(group: string, name: string): void {
    this.noReset.add(`${group}:${name}`);
  }

  /** Every statistic, counters then gauges, sorted by group then name. */
  entries(): StatEntry[] {
    const out: StatEntry[] = [];
    for (const [k, c] of this.counters) out.push({ group: c.group, name: c.name, value: c.value, resettable: !this.noReset.has(k) && !DEFAULT_NO_RESET(c.group, c.name) });
    for (const g of this.gauges.values()) {
      let value: number;
      try {
        value = g.read();
      } catch {
        value = NaN;
      }
      out.push({ group: g.group, name: g.name, value: Number.isFinite(value) ? value : 0, resettable: false });
    }
    out.sort((a, b) => (a.group === b.group ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.group < b.group ? -1 : 1));
    return out;
  }

  /**
   * The statistics a Kamailio filter names: "all", "group:" (a whole group), "group:name", or a
   * bare "name" (in any group). Unknown names select nothing.
   */
  select(filter: string): StatEntry[] {
    const f = filter.trim();
    const all = this.entries();
    if (f === 'all') return all;
    const colon = f.indexOf(':');
    if (colon < 0) return all.filter((e) => e.name === f);
    const group = f.slice(0, colon);
    const name = f.slice(colon + 1);
    return all.filter((e) => e.group === group && (name === '' || e.name === name));
  }

  /** Reset the resettable counters the filter names (see select); returns the entries reset. */
  reset(filter: string): StatEntry[] {
    const picked = this.select(filter).filter((e) => e.resettable);
    for (const e of picked) this.counters.get(`${e.group}:${e.name}`)?.reset();
    return picked;
  }

  /** Every statistic (counters, and gauges read now) as `group:name` → value, optionally of one group. */
  snapshot(group?: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.entries()) if (group === undefined || e.group === group) out[`${e.group}:${e.name}`] = e.value;
    return out;
  }
}
