// Seasonal baseline: expected value = level + offset of the time-of-day bin.
//
// Additive Holt-Winters without trend, made robust: the level follows x minus the seasonal offset
// with a small learning rate, and each bin's offset learns the residual clipped at `clip` mean
// absolute deviations, so a spike teaches the next day almost nothing (without the clip, one spike
// returns as a false dip 24 hours later). A new bin learns with rate 1/count until it has seen
// 1/seasonAlpha points, so the first cycle is a plain average rather than the first value.
//
// State is plain data: numbers and two Float64Arrays of `bins` entries.

export interface BaselineState {
  ready: number
  level: number
  /** Mean absolute residual (clipped), the scale of the clip. */
  spread: number
  offsets: Float64Array
  counts: Float64Array
}

export interface BaselineParams {
  periodMs: number
  bins: number
  levelAlpha: number
  seasonAlpha: number
  clip: number
}

export function newBaseline(p: BaselineParams): BaselineState {
  const bins = p.periodMs > 0 ? p.bins : 1
  return { ready: 0, level: 0, spread: 0, offsets: new Float64Array(bins), counts: new Float64Array(bins) }
}

export function seasonBin(time: number, p: BaselineParams): number {
  if (p.periodMs <= 0) return 0
  const phase = ((time % p.periodMs) + p.periodMs) % p.periodMs
  return Math.min(p.bins - 1, Math.floor((phase / p.periodMs) * p.bins))
}

/** The expected value for `bin` (before the current point is learned). */
export function expected(b: BaselineState, bin: number): number {
  return b.level + b.offsets[bin]
}

/** Learns x at `bin`; n is the 1-based index of the point. */
export function learn(b: BaselineState, x: number, bin: number, n: number, p: BaselineParams): void {
  if (b.ready === 0) {
    b.ready = 1
    b.level = x
  }
  const seasonal = p.periodMs > 0
  const off = seasonal ? b.offsets[bin] : 0
  b.level += p.levelAlpha * (x - off - b.level)
  const raw = x - b.level - off
  const clip = p.clip > 0 ? p.clip : 3
  let e = raw
  if (p.clip > 0 && b.spread > 0) e = Math.max(-p.clip * b.spread, Math.min(p.clip * b.spread, raw))
  // The spread itself is learned from residuals capped at 3 clips, so one huge spike cannot blow it up.
  b.spread += (n < 50 ? 1 / n : 0.01) * (Math.min(Math.abs(raw), 3 * clip * Math.max(b.spread, 1e-12)) - b.spread)
  if (!seasonal) return
  const count = b.counts[bin]
  b.offsets[bin] += (count < 1 / p.seasonAlpha ? 1 / (count + 1) : p.seasonAlpha) * e
  b.counts[bin] = count + 1
}
