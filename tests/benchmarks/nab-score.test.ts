// NAB scoring on tiny hand-made corpora. Expected values are worked out by hand from NAB's formulas
// (nab/sweeper.py), written out in the comments, never taken from the code under test:
//   scaledSigmoid(x) = 2 / (1 + e^(5x)) - 1         maxTP = scaledSigmoid(-1) = 0.98661429815143
//   in a window [l, r] of w rows, a detection at i is worth tpWeight * scaledSigmoid(-(r - i + 1) / w) / maxTP
//   after a window, a false positive at i is worth fpWeight * scaledSigmoid((i - r) / (w - 1)); before any: -fpWeight
//   a window without detection: -fnWeight; normalised = 100 * (raw - null) / (perfect - null)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  NAB_PROFILES,
  fileDetail,
  normalizeScore,
  optimizeThreshold,
  probationaryLength,
  scaledSigmoid,
  scoreAtThreshold,
  scoreCorpus,
  sweepFile,
  parseNabTime,
  type ScoredFile,
} from '../../benchmarks/nab/score.ts'

const standard = NAB_PROFILES.standard
const close = (actual: number, expected: number, eps = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`)

/** n rows at t = 0, 1, 2, ... with scores given sparsely as {row: score}. */
function file(n: number, windows: [number, number][], hits: Record<number, number> = {}, name = 'f.csv'): ScoredFile {
  const timestamps = Array.from({ length: n }, (_, i) => i)
  const scores = new Float64Array(n)
  for (const [i, s] of Object.entries(hits)) scores[Number(i)] = s
  return { name, timestamps, scores, windows }
}

test('scaledSigmoid matches the values documented in nab/sweeper.py', () => {
  close(scaledSigmoid(-1), 0.98661429815143) // 2/(1+e^-5) - 1
  close(scaledSigmoid(-0.5), 0.84828363995751) // 2/(1+e^-2.5) - 1
  close(scaledSigmoid(0), 0)
  close(scaledSigmoid(1), -0.98661429815143)
  assert.equal(scaledSigmoid(3.5), -1) // "FP well behind window"
})

test('probationary period is min(floor(0.15 n), 0.15 * 5000)', () => {
  assert.equal(probationaryLength(1000), 150)
  assert.equal(probationaryLength(4032), 604) // floor(604.8)
  assert.equal(probationaryLength(4999), 749) // floor(749.85)
  assert.equal(probationaryLength(10000), 750)
})

test('a detection on the first row of a window earns exactly tpWeight', () => {
  // position -(r - l + 1)/w = -1, and scaledSigmoid(-1)/maxTP = 1
  const swept = sweepFile(file(1000, [[300, 310]]), standard)
  close(swept.sweep[300], 1)
})

test('detections later in the window earn the scaled sigmoid of their position', () => {
  const swept = sweepFile(file(1000, [[300, 310]]), standard)
  // row 305 of [300, 310] (w = 11): -(310 - 305 + 1)/11 = -6/11 -> (2/(1+e^(-30/11)) - 1)/maxTP
  close(swept.sweep[305], 0.8891354877348165)
  // last row: -1/11 -> (2/(1+e^(-5/11)) - 1)/maxTP
  close(swept.sweep[310], 0.2264702865476093)
})

test('a false positive after a window costs fpWeight times the sigmoid of its distance', () => {
  // window [300, 310] detected on its first row (+1), FP at 315: (315 - 310)/(11 - 1) = 0.5
  // -> 0.11 * (2/(1+e^2.5) - 1) = 0.11 * -0.84828363995751 = -0.0933112004
  const f = sweepFile(file(1000, [[300, 310]], { 300: 1, 315: 1 }), standard)
  close(f.sweep[315], -0.09331120039532642)
  close(scoreAtThreshold(f, standard, 0.5).score, 1 - 0.09331120039532642)
  // an FP before any window costs the full fpWeight
  const g = sweepFile(file(1000, [[300, 310]], { 200: 1, 300: 1 }), standard)
  close(scoreAtThreshold(g, standard, 0.5).score, 1 - 0.11)
})

test('only the best (earliest) detection in a window counts, and a missed window costs fnWeight', () => {
  // window 1 hit at rows 305 and 300: only row 300 (+1) counts; window 2 [500, 510] missed (-1)
  const f = sweepFile(file(1000, [[300, 310], [500, 510]], { 300: 1, 305: 1 }), standard)
  close(scoreAtThreshold(f, standard, 0.5).score, 1 - 1)
  const d = fileDetail(f, standard, 0.5)
  assert.equal(d.detected, 1)
  assert.equal(d.missed, 1)
  assert.equal(d.fpRows, 0)
  const lowFn = sweepFile(file(1000, [[300, 310], [500, 510]], { 300: 1 }), NAB_PROFILES.reward_low_FN_rate)
  close(scoreAtThreshold(lowFn, NAB_PROFILES.reward_low_FN_rate, 0.5).score, 1 - 2)
})

test('rows in the probationary period are not scored', () => {
  // n = 1000: probation is rows 0..149. A detection at row 100 is ignored and a window inside the
  // probation is neither a hit nor a miss.
  const f = sweepFile(file(1000, [[10, 20], [300, 310]], { 100: 1, 15: 1, 300: 1 }), standard)
  close(scoreAtThreshold(f, standard, 0.5).score, 1)
  assert.equal(f.scorableWindows, 1)
})

test('the threshold is optimised over all files together (NAB sweeper)', () => {
  // file a: TP on the first row of its window scored 0.8, FP (before the window) scored 0.9
  // file b: FP scored 0.85 after probation, no window
  // thresholds: 1.1 -> -1 (miss); 0.9 -> -1 - 0.11; 0.85 -> -1 - 0.22; 0.8 -> 1 - 0.22 = 0.78; 0 -> everything detected
  const a = sweepFile(file(1000, [[300, 310]], { 200: 0.9, 300: 0.8 }), standard)
  const b = sweepFile(file(1000, [], { 400: 0.85 }, 'b.csv'), standard)
  const best = optimizeThreshold([a, b], standard)
  assert.equal(best.threshold, 0.8)
  close(best.score, 0.78)
})

test('a perfect detector scores 100 and the null detector 0 on every profile', () => {
  const windows: [number, number][] = [[300, 310], [600, 619]]
  const perfect = scoreCorpus([file(1000, windows, { 300: 1, 600: 1 }), file(800, [], {}, 'quiet.csv')])
  for (const r of perfect) {
    close(r.raw, 2 * NAB_PROFILES[r.profile].tpWeight)
    close(r.nullScore, -2 * NAB_PROFILES[r.profile].fnWeight)
    close(r.normalized, 100)
  }
  const silent = scoreCorpus([file(1000, windows), file(800, [], {}, 'quiet.csv')])
  for (const r of silent) close(r.normalized, 0)
})

test('normalisation is 100 * (raw - null) / (perfect - null)', () => {
  close(normalizeScore(0.89, -1, 1), 94.5) // 100 * 1.89 / 2
  close(normalizeScore(-83, -83, 83), 0)
  close(normalizeScore(26.7, -166, 83), 100 * (26.7 + 166) / 249)
})

test('NAB timestamps parse as UTC, with or without microseconds', () => {
  assert.equal(parseNabTime('2014-04-10 07:15:00'), Date.UTC(2014, 3, 10, 7, 15, 0))
  assert.equal(parseNabTime('2014-04-10 07:15:00.000000'), Date.UTC(2014, 3, 10, 7, 15, 0))
  assert.ok(Number.isNaN(parseNabTime('10/04/2014')))
})

test('a window that does not start on a row of the file is an error', () => {
  assert.throws(() => sweepFile(file(100, [[10.5, 20]]), standard), /does not start and end on rows/)
})

test('`trendwire nab` writes one scored row per input row, in NAB result layout', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { default: nab } = await import('../../bin/commands/nab.ts')
  const root = mkdtempSync(join(tmpdir(), 'nab-cmd-test-'))
  try {
    const data = join(root, 'data')
    mkdirSync(join(data, 'catA'), { recursive: true })
    const rows = Array.from({ length: 600 }, (_, i) => {
      const t = new Date(Date.UTC(2014, 3, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19)
      return `${t},${i === 500 ? 90 : 10 + (i % 7)}`
    })
    writeFileSync(join(data, 'catA', 'one.csv'), ['timestamp,value', ...rows].join('\n'))
    assert.equal(await nab(['--data', data, '--out', join(root, 'out'), '--name', 'bad-name']), 2)
    assert.equal(await nab(['--data', data, '--out', join(root, 'out'), '--name', 'det1']), 0)
    const out = readFileSync(join(root, 'out', 'catA', 'det1_one.csv'), 'utf8').trim().split('\n')
    assert.equal(out[0], 'timestamp,value,anomaly_score')
    assert.equal(out.length, rows.length + 1)
    out.slice(1).forEach((line, i) => {
      const [t, v, s] = line.split(',')
      assert.equal(`${t},${v}`, rows[i])
      assert.ok(Number(s) >= 0 && Number(s) <= 1)
    })
    assert.ok(Number(out[501].split(',')[2]) > 0.5, 'the spike at row 500 is scored')
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
