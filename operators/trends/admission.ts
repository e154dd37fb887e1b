// The admission step of the trend topology as an operator: entity hits pass only for entities the
// admission filter (operators/sketches/admission.ts) gives full state, so the window and keyed
// state downstream hold at most `capacity` entities however many distinct ones the firehose carries.
//
//   USE hits (a post used the entity) are counted: they may admit the entity.
//   ENGAGEMENT hits pass only for entities already admitted (engagement does not admit: the trend
//   signal is about posts using an entity; old posts' engagement would otherwise keep stale
//   entities in).
//   Platform totals (keys.ts isTotalKey) always pass.
// Counts age with the watermark (event time), so a replay makes the same decisions.
import type { Batch, Collector, EventTime, Operator, OperatorContext, StateStats } from '../../streams/types.ts'
import { AdmissionFilter, type AdmissionOptionsInput } from '../sketches/admission.ts'
import { isTotalKey } from './keys.ts'
import { USE, type EntityHit } from './stats.ts'

export class AdmissionOperator implements Operator<EntityHit, EntityHit> {
  readonly filter: AdmissionFilter
  passed = 0
  dropped = 0

  constructor(readonly name: string, options: AdmissionOptionsInput = {}) {
    this.filter = new AdmissionFilter(options)
  }

  processBatch(batch: Batch<EntityHit>, ctx: OperatorContext, out: Collector<EntityHit>): void {
    const { values, times } = batch
    const f = this.filter
    let dropped = 0
    for (let i = 0; i < values.length; i++) {
      const h = values[i]
      const ok = isTotalKey(h.key) || (h.kind === USE ? f.offer(h.key) : f.has(h.key))
      if (ok) out.emit(h, times[i])
      else dropped++
    }
    this.passed += values.length - dropped
    this.dropped += dropped
    if (dropped > 0) ctx.metrics.inc('trend_hits_not_admitted_total', dropped, { operator: this.name })
  }

  onWatermark(wm: EventTime, ctx: OperatorContext): void {
    this.filter.advance(wm)
    ctx.metrics.set('trend_entities_tracked', this.filter.size, { operator: this.name })
  }

  stateStats(): StateStats {
    return { keys: this.filter.size, estimatedBytes: this.filter.bytes }
  }

  snapshot(): unknown {
    return { filter: this.filter.snapshot(), passed: this.passed, dropped: this.dropped }
  }

  restore(state: unknown): void {
    const s = state as { filter: unknown; passed: number; dropped: number }
    this.filter.restore(s.filter)
    this.passed = s.passed
    this.dropped = s.dropped
  }
}
