// NAB scoring (Numenta Anomaly Benchmark v1.1), ported from numenta/NAB:
//   nab/sweeper.py   — per-row sweep scores (scaled sigmoid), score for every threshold
//   nab/optimizer.py — one threshold per profile, the best over all files scored together
//   nab/scorer.py    — per-file score at that threshold (Sweeper.scoreDataSet)
//   nab/runner.py    — normalize(): 100 * (score - null) / (perfect - null)
//   nab/util.py      — getProbationPeriod(): min(floor(0.15 * rows), 0.15 * 5000)
//
// The semantics kept on purpose, because they decide what a detector is rewarded for:
// - Rows in the probationary period are dropped before scoring; a window lying wholly inside it
//   counts for nothing (not even a false negative), but still counts in `perfect`.
// - Each window starts at -fnWeight and becomes the best (largest) sweep score of its detected rows:
//   the sigmoid falls across the window, so that is the earliest detection. Later detections in the
//   same window are free.
// - Every detected row outside a window costs its own sweep score: -fpWeight before any window,
//   fpWeight * scaledSigmoid(distance past the previous window / (its width - 1)) after one, which is
//   close to 0 right after a window and -fpWeight well past it.
// - A row is a detection when anomaly_score >= threshold; the thresholds swept are the distinct
//   scores of the corpus (plus 1.1, which detects nothing).
//
// One deliberate difference: Sweeper.scoreDataSet returns None (and scorer.py then crashes) when every
// score of a file is above the threshold; here that file is scored with every row detected, which is
// what ">= threshold" means.

export interface CostMatrix {
  tpWeight: number
  fpWeight: number
  fnWeight: number
  tnWeight?: number
}

/** NAB's config/profiles.json. */
export const NAB_PROFILES: Record<string, CostMatrix> = {
  standard: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0, tnWeight: 1.0 },
  reward_low_FP_rate: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0, tnWeight: 1.0 },
  reward_low_FN_rate: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0, tnWeight: 1.0 },
}

export const PROBATION_PERCENT = 0.15

/** One data file with a detector's scores. Timestamps are anything comparable with ===; we use epoch ms. */
export interface ScoredFile {
  name: string
  timestamps: readonly number[]
  scores: ArrayLike<number>
  /** Anomaly windows as [start, end] timestamps, both present in `timestamps`, inclusive. */
  windows: ReadonlyArray<readonly [number, number]>
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x))
}

/** -1 at the far left of a window (+0.98661), 0 at its right edge (0), > 0 past it (negative), -1 beyond 3. */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3.0) return -1.0
  return 2 * sigmoid(-5 * relativePosition) - 1.0
}

export function probationaryLength(numRows: number, percent = PROBATION_PERCENT): number {
  return Math.min(Math.floor(percent * numRows), percent * 5000)
}

/** Rows of one file after the sweep: which window each row belongs to and what detecting it is worth. */
export interface SweptFile {
  name: string
  scores: Float64Array
  /** Weighted sweep score of each row (what a detection at that row adds, before the max-per-window rule). */
  sweep: Float64Array
  /** -2: probationary (not scored); -1: outside any window; >= 0: window id local to this file. */
  window: Int32Array
  /** Windows of the file that have at least one scorable row. */
  scorableWindows: number
  windowCount: number
}

export const PROBATIONARY = -2
export const OUTSIDE = -1

/** Sweeper.calcSweepScore. */
export function sweepFile(file: ScoredFile, cost: CostMatrix, probationPercent = PROBATION_PERCENT): SweptFile {
  const { timestamps } = file
  const n = timestamps.length
  if (file.scores.length !== n) throw new Error(`${file.name}: ${file.scores.length} scores for ${n} rows`)
  const windows = [...file.windows].sort((a, b) => a[0] - b[0])
  const indexOf = new Map<number, number>()
  for (let i = n - 1; i >= 0; i--) indexOf.set(timestamps[i], i) // first occurrence wins, like list.index
  for (const [a, b] of windows) {
    if (!indexOf.has(a) || !indexOf.has(b)) throw new Error(`${file.name}: window [${a}, ${b}] does not start and end on rows of the file`)
  }
  const maxTP = scaledSigmoid(-1.0)
  const probation = probationaryLength(n, probationPercent)
  const sweep = new Float64Array(n)
  const window = new Int32Array(n)
  const scores = Float64Array.from(file.scores)

  let next = 0 // next window to enter
  let cur = -1 // current window id, -1 when outside
  let curRight = 0
  let curWidth = 0
  let prevRight = -1
  let prevWidth = 0
  const seen = new Set<number>()
  for (let i = 0; i < n; i++) {
    const t = timestamps[i]
    if (next < windows.length && t === windows[next][0]) {
      cur = next++
      curRight = indexOf.get(windows[cur][1])!
      curWidth = curRight - indexOf.get(windows[cur][0])! + 1
    }
    let w: number
    if (cur >= 0) {
      const position = -(curRight - i + 1) / curWidth
      w = (scaledSigmoid(position) * cost.tpWeight) / maxTP
    } else if (prevRight < 0) {
      w = -1.0 * cost.fpWeight
    } else {
      // NAB divides by (width - 1): a one-row window followed by rows is a division by zero there
      // (Infinity here, which scaledSigmoid maps to -1).
      w = scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1)) * cost.fpWeight
    }
    sweep[i] = w
    if (i >= probation) {
      window[i] = cur
      if (cur >= 0) seen.add(cur)
    } else {
      window[i] = PROBATIONARY
    }
    if (cur >= 0 && t === windows[cur][1]) {
      prevRight = i
      prevWidth = curWidth
      cur = -1
    }
  }
  return { name: file.name, scores, sweep, window, scorableWindows: seen.size, windowCount: windows.length }
}

export interface ThresholdScore {
  threshold: number
  score: number
  /** Row counts, as NAB reports them (a row in a window above threshold is a "tp" row). */
  tp: number
  tn: number
  fp: number
  fn: number
  total: number
}

/**
 * Sweeper.calcScoreByThreshold over any number of swept files: the score for every distinct
 * threshold, highest threshold first; row T counts every row with score >= T as a detection.
 */
export function scoreByThreshold(files: readonly SweptFile[], cost: CostMatrix): ThresholdScore[] {
  let total = 0
  for (const f of files) for (let i = 0; i < f.window.length; i++) if (f.window[i] !== PROBATIONARY) total++
  const score = new Float64Array(total)
  const sweep = new Float64Array(total)
  const win = new Int32Array(total) // global window id, -1 outside
  let k = 0
  let windowBase = 0
  for (const f of files) {
    for (let i = 0; i < f.window.length; i++) {
      const w = f.window[i]
      if (w === PROBATIONARY) continue
      score[k] = f.scores[i]
      sweep[k] = f.sweep[i]
      win[k] = w >= 0 ? windowBase + w : OUTSIDE
      k++
    }
    windowBase += f.windowCount
  }
  // Descending by score, stable (Python's sorted(reverse=True) keeps equal keys in order).
  const order = new Uint32Array(total)
  for (let i = 0; i < total; i++) order[i] = i
  order.sort((a, b) => score[b] - score[a] || a - b)

  // Each scorable window starts as a false negative.
  const windowPart = new Float64Array(windowBase).fill(NaN)
  let windowSum = 0
  for (let i = 0; i < total; i++) {
    const w = win[i]
    if (w >= 0 && Number.isNaN(windowPart[w])) {
      windowPart[w] = -cost.fnWeight
      windowSum -= cost.fnWeight
    }
  }
  let fpSum = 0
  let tn = 0
  let fn = 0
  for (let i = 0; i < total; i++) (win[i] >= 0 ? fn++ : tn++)
  let tp = 0
  let fp = 0
  const out: ThresholdScore[] = []
  let curThreshold = 1.1
  for (let j = 0; j < total; j++) {
    const i = order[j]
    if (score[i] !== curThreshold) {
      out.push({ threshold: curThreshold, score: fpSum + windowSum, tp, tn, fp, fn, total: tp + tn + fp + fn })
      curThreshold = score[i]
    }
    const w = win[i]
    if (w >= 0) {
      tp++
      fn--
      if (sweep[i] > windowPart[w]) {
        windowSum += sweep[i] - windowPart[w]
        windowPart[w] = sweep[i]
      }
    } else {
      fp++
      tn--
      fpSum += sweep[i]
    }
  }
  out.push({ threshold: curThreshold, score: fpSum + windowSum, tp, tn, fp, fn, total: tp + tn + fp + fn })
  return out
}

/** optimizer.optimizeThreshold: the threshold with the best corpus score (first of equals, i.e. the highest). */
export function optimizeThreshold(files: readonly SweptFile[], cost: CostMatrix): ThresholdScore {
  const rows = scoreByThreshold(files, cost)
  let best = rows[0]
  for (const r of rows) if (r.score > best.score) best = r
  return best
}

/** Sweeper.scoreDataSet at a given threshold, for one file. */
export function scoreAtThreshold(file: SweptFile, cost: CostMatrix, threshold: number): ThresholdScore {
  const rows = scoreByThreshold([file], cost)
  let prev: ThresholdScore | undefined
  for (const r of rows) {
    if (r.threshold === threshold) return r
    if (r.threshold < threshold) return prev ?? r
    prev = r
  }
  return rows[rows.length - 1]
}

/** Window-level view of one file at a threshold: what was detected, how early, and the false positives. */
export interface FileDetail {
  name: string
  score: number
  windows: number
  detected: number
  missed: number
  /** Detected rows outside windows (after probation). */
  fpRows: number
  /** For each window, the sweep value earned (or -fnWeight). */
  windowScores: number[]
}

export function fileDetail(file: SweptFile, cost: CostMatrix, threshold: number): FileDetail {
  const best = new Map<number, number>()
  let fpRows = 0
  let fpSum = 0
  for (let i = 0; i < file.window.length; i++) {
    const w = file.window[i]
    if (w === PROBATIONARY) continue
    if (w >= 0 && !best.has(w)) best.set(w, -cost.fnWeight)
    if (file.scores[i] < threshold) continue
    if (w >= 0) best.set(w, Math.max(best.get(w)!, file.sweep[i]))
    else {
      fpRows++
      fpSum += file.sweep[i]
    }
  }
  const windowScores = [...best.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])
  const detected = windowScores.filter((s) => s > -cost.fnWeight).length
  return {
    name: file.name,
    score: fpSum + windowScores.reduce((a, b) => a + b, 0),
    windows: windowScores.length,
    detected,
    missed: windowScores.length - detected,
    fpRows,
    windowScores,
  }
}

export interface ProfileResult {
  profile: string
  threshold: number
  /** Sum of the per-file scores at the threshold. */
  raw: number
  /** The null detector's score (a constant 0.5 for every row, thresholds optimized the same way). */
  nullScore: number
  /** Windows in the labels of the files scored times tpWeight. */
  perfect: number
  normalized: number
  files: FileDetail[]
}

/** runner.normalize. */
export function normalizeScore(raw: number, nullScore: number, perfect: number): number {
  return (100 * (raw - nullScore)) / (perfect - nullScore)
}

/**
 * The whole NAB pipeline for one detector: optimize a threshold per profile over all files,
 * score every file at it, normalize against the null detector.
 */
export function scoreCorpus(
  files: readonly ScoredFile[],
  profiles: Record<string, CostMatrix> = NAB_PROFILES,
  probationPercent = PROBATION_PERCENT,
): ProfileResult[] {
  const out: ProfileResult[] = []
  const windowTotal = files.reduce((a, f) => a + f.windows.length, 0)
  for (const [profile, cost] of Object.entries(profiles)) {
    const swept = files.map((f) => sweepFile(f, cost, probationPercent))
    const { threshold } = optimizeThreshold(swept, cost)
    let raw = 0
    const details: FileDetail[] = []
    for (const s of swept) {
      raw += scoreAtThreshold(s, cost, threshold).score
      details.push(fileDetail(s, cost, threshold))
    }
    const nullSwept = files.map((f) =>
      sweepFile({ ...f, scores: new Float64Array(f.timestamps.length).fill(0.5) }, cost, probationPercent),
    )
    const nullThreshold = optimizeThreshold(nullSwept, cost).threshold
    let nullScore = 0
    for (const s of nullSwept) nullScore += scoreAtThreshold(s, cost, nullThreshold).score
    const perfect = windowTotal * cost.tpWeight
    out.push({ profile, threshold, raw, nullScore, perfect, normalized: normalizeScore(raw, nullScore, perfect), files: details })
  }
  return out
}

/** NAB timestamps ("2014-04-10 07:15:00" or "2014-04-10 07:15:00.000000") as epoch ms, read as UTC. */
export function parseNabTime(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(s.trim())
  if (!m) return NaN
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms)
}
