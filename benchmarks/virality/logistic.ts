// L2-regularised logistic regression by Newton's method (IRLS), for the virality model. With a few
// dozen standardised features and ~10^5 rows, each step is one pass to build the gradient and the
// (F+1)×(F+1) Hessian and one Cholesky solve; it converges in ~10 steps to the exact optimum, so the
// fit is deterministic and needs no learning rate.

export interface LogisticFit {
  weights: Float64Array
  bias: number
  iterations: number
  /** mean negative log-likelihood on the training rows at the optimum */
  logLoss: number
}

/** Solves A x = b for symmetric positive definite A (n×n, row-major); A and b are not modified. */
export function choleskySolve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k]
      if (i === j) {
        if (!(s > 0)) throw new Error(`choleskySolve: matrix is not positive definite (pivot ${i}: ${s})`)
        L[i * n + i] = Math.sqrt(s)
      } else L[i * n + j] = s / L[j * n + j]
    }
  }
  const y = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let s = b[i]
    for (let k = 0; k < i; k++) s -= L[i * n + k] * y[k]
    y[i] = s / L[i * n + i]
  }
  const x = new Float64Array(n)
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k]
    x[i] = s / L[i * n + i]
  }
  return x
}

/**
 * Fits P(y = 1 | z) = σ(b + w·z) minimising Σ logloss + (l2 / 2)·|w|² (the bias is not penalised).
 * z: n rows of F standardised features, row-major; y: 0/1.
 */
export function fitLogistic(z: Float64Array, y: Uint8Array, F: number, l2: number, maxIterations = 50, tol = 1e-9): LogisticFit {
  const n = y.length
  const D = F + 1 // last coordinate: bias
  const theta = new Float64Array(D)
  let it = 0
  for (; it < maxIterations; it++) {
    const g = new Float64Array(D)
    const H = new Float64Array(D * D)
    const x = new Float64Array(D)
    x[F] = 1
    for (let r = 0; r < n; r++) {
      let eta = theta[F]
      for (let j = 0; j < F; j++) { x[j] = z[r * F + j]; eta += theta[j] * x[j] }
      const p = 1 / (1 + Math.exp(-eta))
      const d = p - y[r]
      const w = p * (1 - p)
      for (let i = 0; i < D; i++) {
        g[i] += d * x[i]
        const wx = w * x[i]
        for (let j = 0; j <= i; j++) H[i * D + j] += wx * x[j]
      }
    }
    for (let i = 0; i < D; i++) for (let j = 0; j < i; j++) H[j * D + i] = H[i * D + j]
    for (let j = 0; j < F; j++) { g[j] += l2 * theta[j]; H[j * D + j] += l2 }
    const step = choleskySolve(H, g, D)
    let max = 0
    for (let i = 0; i < D; i++) { theta[i] -= step[i]; max = Math.max(max, Math.abs(step[i])) }
    if (max < tol) { it++; break }
  }
  let loss = 0
  for (let r = 0; r < n; r++) {
    let eta = theta[F]
    for (let j = 0; j < F; j++) eta += theta[j] * z[r * F + j]
    // log(1 + e^{-eta}) for y=1, log(1 + e^{eta}) for y=0, computed stably
    const m = y[r] ? -eta : eta
    loss += m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m))
  }
  return { weights: theta.slice(0, F), bias: theta[F], iterations: it, logLoss: loss / n }
}
