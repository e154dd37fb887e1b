import { test } from 'node:test'
import assert from 'node:assert/strict'
import { averagePrecision, rocAuc } from '../../benchmarks/virality/metrics.ts'

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`)

test('ROC AUC and average precision on scikit-learn\'s documented example', () => {
  // sklearn docs: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75,
  // average_precision_score(...) = 0.8333...
  const y = [0, 0, 1, 1]
  const s = [0.1, 0.4, 0.35, 0.8]
  close(rocAuc(s, y), 0.75, 'roc')
  close(averagePrecision(s, y), 5 / 6, 'ap')
})

test('perfect, reversed and constant scores', () => {
  const y = [false, false, true, true, false]
  close(rocAuc([1, 2, 9, 8, 0], y), 1, 'perfect roc')
  close(averagePrecision([1, 2, 9, 8, 0], y), 1, 'perfect ap')
  close(rocAuc([9, 8, 1, 0, 7], y), 0, 'reversed roc')
  // reversed: positives at ranks 4 and 5 of 5: AP = ½·(1/4) + ½·(2/5)
  close(averagePrecision([9, 8, 1, 0, 7], y), 0.5 * 0.25 + 0.5 * 0.4, 'reversed ap')
  // all tied: ROC AUC ½ (every pair a tie), AP = prevalence (one threshold: recall 1 at precision 2/5)
  close(rocAuc([3, 3, 3, 3, 3], y), 0.5, 'tied roc')
  close(averagePrecision([3, 3, 3, 3, 3], y), 0.4, 'tied ap')
})

test('ties between a positive and a negative count one half; tied groups enter AP as one step', () => {
  // scores: p1=0.9, {p2, n1}=0.5, n2=0.1. Pairs: (p1,n1) win, (p1,n2) win, (p2,n1) tie, (p2,n2) win → 3.5/4
  const s = [0.9, 0.5, 0.5, 0.1]
  const y = [1, 1, 0, 0]
  close(rocAuc(s, y), 3.5 / 4, 'roc')
  // thresholds: 0.9 → recall ½ precision 1; 0.5 → recall 1 precision 2/3; AP = ½·1 + ½·⅔
  close(averagePrecision(s, y), 0.5 + 0.5 * (2 / 3), 'ap')
  // brute force over all pairs agrees on random data with many ties
  let seed = 7
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const n = 300
  const sc = Array.from({ length: n }, () => Math.floor(rnd() * 20))
  const lb = Array.from({ length: n }, () => rnd() < 0.2)
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    if (!lb[i] || lb[j]) continue
    den++
    num += sc[i] > sc[j] ? 1 : sc[i] === sc[j] ? 0.5 : 0
  }
  close(rocAuc(sc, lb), num / den, 'roc vs brute force')
})

test('undefined cases return NaN; bad input throws', () => {
  assert.ok(Number.isNaN(rocAuc([1, 2], [0, 0])))
  assert.ok(Number.isNaN(rocAuc([1, 2], [1, 1])))
  assert.ok(Number.isNaN(averagePrecision([1, 2], [0, 0])))
  assert.throws(() => rocAuc([1], [0, 1]), RangeError)
  assert.throws(() => averagePrecision([NaN, 1], [0, 1]), RangeError)
})
