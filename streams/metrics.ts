// Metrics through prom-client. Components bump counters by name; the first use of a name creates
// the metric with the label names it was used with. Rendered on /metrics in Prometheus text format.
import { Counter, Gauge, Registry } from 'prom-client'
import type { MetricsSink } from './types.ts'

export class Metrics implements MetricsSink {
  readonly registry = new Registry()
  private counters = new Map<string, Counter<string>>()
  private gauges = new Map<string, Gauge<string>>()

  constructor(readonly prefix = 'trendwire_') {}

  inc(name: string, by = 1, labels?: Record<string, string>): void {
    let c = this.counters.get(name)
    if (!c) {
      c = new Counter({ name: this.prefix + name, help: name.replace(/_/g, ' '), labelNames: labels ? Object.keys(labels) : [], registers: [this.registry] })
      this.counters.set(name, c)
    }
    if (labels) c.inc(labels, by)
    else c.inc(by)
  }

  set(name: string, value: number, labels?: Record<string, string>): void {
    let g = this.gauges.get(name)
    if (!g) {
      g = new Gauge({ name: this.prefix + name, help: name.replace(/_/g, ' '), labelNames: labels ? Object.keys(labels) : [], registers: [this.registry] })
      this.gauges.set(name, g)
    }
    if (labels) g.set(labels, value)
    else g.set(value)
  }

  async render(): Promise<string> {
    return this.registry.metrics()
  }

  /** Current value of a counter or gauge (sum over labels), for status pages and tests. */
  async value(name: string, labels?: Record<string, string>): Promise<number> {
    const m = this.counters.get(name) ?? this.gauges.get(name)
    if (!m) return 0
    const data = await m.get()
    let total = 0
    for (const v of data.values) {
      if (labels && !Object.entries(labels).every(([k, x]) => v.labels[k] === x)) continue
      total += v.value
    }
    return total
  }
}

/** For tests and embedded use: discards everything. */
export const noMetrics: MetricsSink = { inc() {}, set() {} }
