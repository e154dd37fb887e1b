// A record channel: an exponentially smoothed view of one input that reports how far it breaks the
// highest (or lowest) value it has ever reached, in units of its own typical spread.
//
// Why records: a point is anomalous when nothing like it was seen before. The running maximum and
// minimum of a smoothed signal are the cheapest exact memory of "everything seen before" (O(1)),
// and they make the evidence sparse on its own: during a long excursion only the points that push
// beyond the previous extreme carry evidence, which suits both NAB (only the first detection in a
// window counts, every later false positive costs) and trend alerts (one alert per take-off).
//
// State is packed in a Float64Array (CH_FIELDS numbers per channel) so the detector snapshots as
// plain data. Layout per channel, at offset o:
//   o+0 alpha   smoothing rate (1 / span)
//   o+1 ready   0 until the first input
//   o+2 s       smoothed value
//   o+3 c       slow robust centre of s
//   o+4 d       mean absolute deviation of s around c (clipped at 4 d)
//   o+5 hi      record high of s
//   o+6 lo      record low of s

export const CH_FIELDS = 7
const ALPHA = 0
const READY = 1
const S = 2
const C = 3
const D = 4
const HI = 5
const LO = 6

export function initChannel(state: Float64Array, o: number, span: number): void {
  state.fill(0, o, o + CH_FIELDS)
  state[o + ALPHA] = 1 / span
}

export interface ChannelParams {
  centerAlpha: number
  spreadAlpha: number
  tailWeight: number
  /** Per-point relaxation of records toward the centre (0: never). */
  recordDecay: number
}

/**
 * Feeds x into the channel at `o` and returns the exceedances of the previous records, normalised
 * and unweighted: out[0] above the high, out[1] below the low (0 when not a record). `score` is false
 * during warm-up: records still move, nothing is reported.
 */
export function stepChannel(
  state: Float64Array,
  o: number,
  x: number,
  n: number,
  warmup: number,
  score: boolean,
  p: ChannelParams,
  out: Float64Array,
): void {
  out[0] = 0
  out[1] = 0
  if (state[o + READY] === 0) {
    state[o + READY] = 1
    state[o + S] = x
    state[o + C] = x
    state[o + HI] = x
    state[o + LO] = x
    return
  }
  const s = (state[o + S] += state[o + ALPHA] * (x - state[o + S]))
  const c = state[o + C]
  const d = state[o + D]
  const hi = state[o + HI]
  const lo = state[o + LO]
  if (score) {
    // The exceedance is measured in the channel's spread, widened by how far the record already is
    // from the centre: breaking a record that sits 20 spreads out by one spread is less telling than
    // breaking one that sits at 3.
    const spread = Math.max(d, 1e-9 * (Math.abs(c) + 1))
    if (s > hi) out[0] = (s - hi) / (spread + p.tailWeight * (hi - c))
    if (s < lo) out[1] = (lo - s) / (spread + p.tailWeight * (c - lo))
  }
  if (s > hi) state[o + HI] = s
  else if (p.recordDecay > 0) state[o + HI] = hi - p.recordDecay * (hi - c)
  if (s < lo) state[o + LO] = s
  else if (p.recordDecay > 0) state[o + LO] = lo - p.recordDecay * (lo - c)
  // Robust centre and spread: deviations are clipped at 4 spreads so an outlier moves them little.
  const e = s - c
  const ce = d > 0 ? Math.max(-4 * d, Math.min(4 * d, e)) : e
  state[o + C] = c + p.centerAlpha * ce
  state[o + D] = d + (n < warmup ? 1 / n : p.spreadAlpha) * (Math.abs(ce) - d)
}
