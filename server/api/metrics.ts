// /metrics: the engine's registries (one per Runner: records in/out per operator, watermark delay,
// dead letters, checkpoints, sink counters such as webhook deliveries) followed by the API's own:
//
//   trendwire_http_requests_total{method,route,status}        counter
//   trendwire_http_request_duration_seconds{method,route}     histogram
//   trendwire_rate_limited_total{scope}                       counter  (http | ws)
//   trendwire_ws_clients                                      gauge
//   trendwire_ws_messages_sent_total{stream}                  counter  (live; replays separately)
//   trendwire_ws_replayed_total{stream}                       counter
//   trendwire_ws_gaps_total{stream,reason}                    counter
//   trendwire_ws_slow_clients_total{action}                   counter  (coalesced | closed)
//   trendwire_ws_dead_connections_total                       counter  (missed heartbeat)
//   trendwire_sink_write_seconds{sink}                        histogram (live sinks' hand-over)
//   trendwire_webhook_delivery_seconds                        histogram (successful attempts)
//   trendwire_operator_state_keys{topology,operator}          gauge    (read from Runner.status() at scrape)
//   trendwire_operator_state_bytes{topology,operator}         gauge
//   trendwire_partition_event_lag_ms{topology,partition}      gauge    (wall clock − partition watermark)
//   trendwire_consumer_lag_records{topology,partition}        gauge    (when a lag provider is given)
//   trendwire_runner_up{topology,state}                       gauge
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { StreamName } from '../../schemas/api/ws.ts'
import type { WebhookSink, DeliveredEvent } from '../../sinks/webhooks/sink.ts'
import type { Runner } from '../../streams/runner.ts'
import type { FeedMetrics } from '../ws/feed.ts'
import type { SinkLatency } from './live-state.ts'

export interface LagSample {
  topology: string
  partition: string
  records: number
}

export class ApiMetrics implements FeedMetrics, SinkLatency {
  readonly registry = new Registry()
  readonly httpRequests: Counter<string>
  readonly httpDuration: Histogram<string>
  private readonly limited: Counter<string>
  private readonly wsClients: Gauge<string>
  private readonly wsSent: Counter<string>
  private readonly wsReplayed: Counter<string>
  private readonly wsGaps: Counter<string>
  private readonly wsSlow: Counter<string>
  private readonly wsDead: Counter<string>
  private readonly sinkWrite: Histogram<string>
  private readonly webhookLatency: Histogram<string>

  constructor(private readonly runners: () => readonly Runner[], consumerLag?: () => LagSample[]) {
    const registers = [this.registry]
    this.httpRequests = new Counter({ name: 'trendwire_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers })
    this.httpDuration = new Histogram({ name: 'trendwire_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['method', 'route'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers })
    this.limited = new Counter({ name: 'trendwire_rate_limited_total', help: 'requests refused by the rate limiter', labelNames: ['scope'], registers })
    this.wsClients = new Gauge({ name: 'trendwire_ws_clients', help: 'connected WebSocket clients', registers })
    this.wsSent = new Counter({ name: 'trendwire_ws_messages_sent_total', help: 'live messages sent to WebSocket clients', labelNames: ['stream'], registers })
    this.wsReplayed = new Counter({ name: 'trendwire_ws_replayed_total', help: 'messages replayed to resuming clients', labelNames: ['stream'], registers })
    this.wsGaps = new Counter({ name: 'trendwire_ws_gaps_total', help: 'gap messages (evicted from the replay buffer, or a new epoch)', labelNames: ['stream', 'reason'], registers })
    this.wsSlow = new Counter({ name: 'trendwire_ws_slow_clients_total', help: 'slow WebSocket clients coalesced or closed', labelNames: ['action'], registers })
    this.wsDead = new Counter({ name: 'trendwire_ws_dead_connections_total', help: 'connections terminated after a missed heartbeat', registers })
    this.sinkWrite = new Histogram({ name: 'trendwire_sink_write_seconds', help: 'time a live sink takes to hand a batch over', labelNames: ['sink'], buckets: [0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1], registers })
    this.webhookLatency = new Histogram({ name: 'trendwire_webhook_delivery_seconds', help: 'successful webhook attempt duration', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers })
    const self = this
    new Gauge({
      name: 'trendwire_operator_state_keys', help: 'keys in operator state', labelNames: ['topology', 'operator'], registers,
      collect() { this.reset(); for (const r of self.runners()) { const s = r.status(); for (const n of s.nodes) if (n.state) this.set({ topology: s.topology, operator: n.name }, n.state.keys) } },
    })
    new Gauge({
      name: 'trendwire_operator_state_bytes', help: 'estimated bytes of operator state', labelNames: ['topology', 'operator'], registers,
      collect() { this.reset(); for (const r of self.runners()) { const s = r.status(); for (const n of s.nodes) if (n.state) this.set({ topology: s.topology, operator: n.name }, n.state.estimatedBytes) } },
    })
    new Gauge({
      name: 'trendwire_partition_event_lag_ms', help: 'wall clock minus the partition watermark (event-time lag; meaningful for real-time sources)', labelNames: ['topology', 'partition'], registers,
      collect() {
        this.reset()
        const now = Date.now()
        for (const r of self.runners()) { const s = r.status(); for (const p of s.partitions) if (Number.isFinite(p.watermark)) this.set({ topology: s.topology, partition: p.id }, now - p.watermark) }
      },
    })
    new Gauge({
      name: 'trendwire_runner_up', help: '1 for the state each runner is in', labelNames: ['topology', 'state'], registers,
      collect() { this.reset(); for (const r of self.runners()) { const s = r.status(); this.set({ topology: s.topology, state: s.state }, 1) } },
    })
    if (consumerLag) {
      new Gauge({
        name: 'trendwire_consumer_lag_records', help: 'records behind the newest offset, per source partition', labelNames: ['topology', 'partition'], registers,
        collect() { this.reset(); for (const l of consumerLag()) this.set({ topology: l.topology, partition: l.partition }, l.records) },
      })
    }
  }

  // FeedMetrics
  clients(n: number): void { this.wsClients.set(n) }
  sent(stream: StreamName, n: number): void { this.wsSent.inc({ stream }, n) }
  slow(action: 'coalesced' | 'closed'): void { this.wsSlow.inc({ action }) }
  dead(): void { this.wsDead.inc() }
  replayed(stream: StreamName, n: number): void { this.wsReplayed.inc({ stream }, n) }
  gap(stream: StreamName, reason: 'evicted' | 'epoch'): void { this.wsGaps.inc({ stream, reason }) }
  rateLimited(scope: 'http' | 'ws' = 'ws'): void { this.limited.inc({ scope }) }

  // SinkLatency
  observe(sink: string, seconds: number): void { this.sinkWrite.observe({ sink }, seconds) }

  /** Webhook attempt latency from a WebhookSink's events. */
  watchWebhooks(sink: WebhookSink): void {
    sink.on('delivered', (e: DeliveredEvent) => this.webhookLatency.observe(e.ms / 1000))
  }

  /** Prometheus text: the engine's registries, then the API's. */
  async render(): Promise<string> {
    const parts = await Promise.all(this.runners().map((r) => r.metrics.render()))
    parts.push(await this.registry.metrics())
    return parts.join('\n')
  }
}
