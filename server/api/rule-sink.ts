// Runs an alert rule where a topology hands over its output: a Sink<I> that passes each batch
// through an operator and writes what it emits to another sink. For topologies that take sinks and
// cannot be edited (topologies/trends.ts takes `signals: Sink<TrendSignal>`):
//
//   trendsTopology(source, { signals: new TeeSink('signals', [api.sinks.trends, keywordTrendAlertSink(api.watchlist, alerts)]), late })
//
// The operator's state is checkpointed with the sink (preCommit returns it; restore gives it back).
// A sink sees no watermarks: the largest event time written so far stands in for one, which the
// keyword_trend rule uses only to forget old episodes.
import type { Watchlist, RoutedAlert } from '../../operators/alerts/types.ts'
import { KeywordTrendAlertOperator, type KeywordTrendOptionsInput } from '../../operators/alerts/keyword-trend.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'
import { noMetrics } from '../../streams/metrics.ts'
import type { Batch, Collector, EventTime, MetricsSink, Operator, OperatorContext, Sink, SinkContext } from '../../streams/types.ts'

interface RuleSinkState {
  op: unknown
  downstream: unknown
  maxTime: number
}

export class OperatorSink<I, O> implements Sink<I> {
  private maxTime = -Infinity
  private metrics: MetricsSink = noMetrics

  constructor(readonly name: string, private readonly op: Operator<I, O>, private readonly downstream: Sink<O>) {}

  async open(ctx: SinkContext): Promise<void> {
    this.metrics = ctx.metrics
    await this.downstream.open?.(ctx)
  }

  write(batch: Batch<I>, ctx: SinkContext): void | Promise<void> {
    for (const t of batch.times) if (t > this.maxTime) this.maxTime = t
    const values: O[] = []
    const times: EventTime[] = []
    const out: Collector<O> = { emit: (v, t) => { values.push(v); times.push(t) }, side: () => {} }
    const self = this
    const octx: OperatorContext = { get watermark() { return self.maxTime }, now: () => Date.now(), metrics: this.metrics }
    const finish = (): void | Promise<void> => {
      const w = this.op.onWatermark?.(this.maxTime, octx, out)
      const send = () => (values.length > 0 ? this.downstream.write({ values, times }, ctx) : undefined)
      return w instanceof Promise ? w.then(send) : send()
    }
    const r = this.op.processBatch(batch, octx, out)
    return r instanceof Promise ? r.then(finish) : finish()
  }

  async preCommit(checkpointId: number): Promise<RuleSinkState> {
    return { op: this.op.snapshot?.(), downstream: await this.downstream.preCommit?.(checkpointId), maxTime: this.maxTime }
  }

  async commit(checkpointId: number): Promise<void> {
    await this.downstream.commit?.(checkpointId)
  }

  async restore(state: unknown): Promise<void> {
    const s = state as RuleSinkState | undefined
    if (s) {
      this.op.restore?.(s.op)
      this.maxTime = s.maxTime
    }
    await this.downstream.restore?.(s?.downstream)
  }

  async close(): Promise<void> {
    await this.downstream.close?.()
  }
}

/** The keyword_trend rule as a Sink<TrendSignal> writing its alerts to `alerts`. */
export function keywordTrendAlertSink(watchlist: Watchlist, alerts: Sink<RoutedAlert>, o: KeywordTrendOptionsInput = {}): Sink<TrendSignal> {
  return new OperatorSink('keyword-trend-alerts', new KeywordTrendAlertOperator('brand-keyword-trend', watchlist, o), alerts)
}
