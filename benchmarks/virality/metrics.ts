// Ranking metrics for the virality evaluation, written out so their tie handling is explicit.
//
// ROC AUC is the Mann–Whitney statistic: the probability that a random positive scores above a random
// negative, ties counting one half (midranks). PR AUC is average precision as scikit-learn defines it
// (average_precision_score): Σ_k (R_k − R_{k−1}) · P_k over the distinct score thresholds, highest
// first, so tied scores enter together as one step (no interpolation, no optimistic ordering of ties).
// tests/benchmarks/virality-metrics.test.ts checks both against hand-computed values.

function check(scores: ArrayLike<number>, labels: ArrayLike<boolean | number>): void {
  if (scores.length !== labels.length) throw new RangeError(`scores (${scores.length}) and labels (${labels.length}) differ in length`)
  for (let i = 0; i < scores.length; i++) if (Number.isNaN(scores[i])) throw new RangeError(`score ${i} is NaN`)
}

/** Indices sorted by score, descending (stable). */
function order(scores: ArrayLike<number>): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i)
  return idx.sort((a, b) => scores[b] - scores[a] || a - b)
}

/** Area under the ROC curve; NaN when there are no positives or no negatives. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<boolean | number>): number {
  check(scores, labels)
  const idx = order(scores)
  let pos = 0
  let neg = 0
  // walk groups of tied scores from the top: each positive beats the negatives below its group and ties half of its group's
  let wins = 0
  let negAbove = 0
  for (let i = 0; i < idx.length;) {
    let j = i
    let p = 0
    let n = 0
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) { if (labels[idx[j]]) p++; else n++; j++ }
    // positives in this group lose to every negative above and tie with the group's negatives
    wins -= p * negAbove + 0.5 * p * n
    negAbove += n
    pos += p
    neg += n
    i = j
  }
  if (pos === 0 || neg === 0) return NaN
  // every positive starts with a win over every negative; the loop subtracted the losses and half-ties
  wins += pos * neg
  return wins / (pos * neg)
}

/** Average precision (area under the precision–recall step curve); NaN when there are no positives. */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<boolean | number>): number {
  check(scores, labels)
  const idx = order(scores)
  let total = 0
  for (let i = 0; i < labels.length; i++) if (labels[i]) total++
  if (total === 0) return NaN
  let tp = 0
  let seen = 0
  let ap = 0
  let prevRecall = 0
  for (let i = 0; i < idx.length;) {
    let j = i
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) { if (labels[idx[j]]) tp++; seen++; j++ }
    const recall = tp / total
    ap += (recall - prevRecall) * (tp / seen)
    prevRecall = recall
    i = j
  }
  return ap
}
