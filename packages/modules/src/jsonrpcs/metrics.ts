/**
 * Prometheus exposition (GET /metrics) with prom-client: every statistic of the StatsRegistry as
 * `<prefix>_<group>_<name>` (xhttp_prom's `kamailio_<group>_<name>` with metrics_prefix
 * "kamailio"), the route execution time histogram per route type and engine, and optionally
 * Node's process metrics.
 */
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StatsRegistry } from '@ksr/core';

/** A Prometheus name piece: [a-zA-Z0-9_] only. */
export function promName(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}

export const ROUTE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface MetricsOptions {
  prefix: string;
  /** "all", or groups separated by spaces/commas/semicolons (xhttp_prom_stats). */
  groups: string;
  processMetrics: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly gauges = new Map<string, Gauge>();
  private readonly routeTime: Histogram<'route' | 'engine'>;
  private readonly groups: Set<string> | undefined;

  constructor(
    private readonly stats: StatsRegistry,
    private readonly opts: MetricsOptions,
  ) {
    const g = opts.groups.trim();
    this.groups = g === '' || g === 'all' ? undefined : new Set(g.split(/[\s,;]+/).filter(Boolean).map((x) => x.replace(/:$/, '')));
    this.routeTime = new Histogram({
      name: `${opts.prefix}_route_duration_seconds`,
      help: 'Execution time of script routes, per route type (request, reply, failure, onreply, branch, event) and engine',
      labelNames: ['route', 'engine'],
      buckets: ROUTE_BUCKETS,
      registers: [this.registry],
    });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: `${opts.prefix}_` });
  }

  /** One route run (seconds). */
  observeRoute(route: string, engine: string, seconds: number): void {
    this.routeTime.observe({ route, engine }, seconds);
  }

  private refresh(): void {
    for (const e of this.stats.entries()) {
      if (this.groups && !this.groups.has(e.group)) continue;
      const name = `${this.opts.prefix}_${promName(e.group)}_${promName(e.name)}`;
      let g = this.gauges.get(name);
      if (!g) {
        if (this.registry.getSingleMetric(name)) continue; // a sanitised name that collides
        g = new Gauge({ name, help: `${e.group}:${e.name}`, registers: [this.registry] });
        this.gauges.set(name, g);
      }
      g.set(e.value);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async text(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }

  destroy(): void {
    this.registry.clear();
  }
}
