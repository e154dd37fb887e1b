// Nelder–Mead simplex minimisation (Lagarias et al. 1998 coefficients: reflection 1, expansion 2,
// contraction ½, shrink ½). Derivative-free, enough for the 2–3 parameter fits of the evaluation.

export interface MinimizeResult {
  x: number[]
  f: number
  evaluations: number
}

export function nelderMead(
  f: (x: readonly number[]) => number, x0: readonly number[],
  opts: { step?: number | readonly number[]; maxEvaluations?: number; tolF?: number; tolX?: number } = {},
): MinimizeResult {
  const n = x0.length
  const maxEval = opts.maxEvaluations ?? 200 * n
  const tolF = opts.tolF ?? 1e-10
  const tolX = opts.tolX ?? 1e-8
  let evals = 0
  const F = (x: number[]): number => {
    evals++
    const v = f(x)
    return Number.isNaN(v) ? Infinity : v
  }
  const pts: number[][] = [x0.slice()]
  for (let i = 0; i < n; i++) {
    const p = x0.slice()
    const s = typeof opts.step === 'number' ? opts.step : opts.step?.[i] ?? (Math.abs(p[i]) > 1e-3 ? 0.1 * Math.abs(p[i]) : 0.1)
    p[i] += s
    pts.push(p)
  }
  let vals = pts.map(F)
  while (evals < maxEval) {
    const order = vals.map((v, i) => i).sort((a, b) => vals[a] - vals[b])
    const P = order.map((i) => pts[i])
    const V = order.map((i) => vals[i])
    pts.splice(0, pts.length, ...P)
    vals = V
    let spread = 0
    for (let i = 1; i <= n; i++) for (let j = 0; j < n; j++) spread = Math.max(spread, Math.abs(pts[i][j] - pts[0][j]))
    if (Math.abs(vals[n] - vals[0]) <= tolF * (Math.abs(vals[0]) + tolF) && spread <= tolX) break
    const c = new Array<number>(n).fill(0)
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[j] += pts[i][j] / n
    const along = (t: number): number[] => c.map((cj, j) => cj + t * (pts[n][j] - cj))
    const xr = along(-1)
    const fr = F(xr)
    if (fr < vals[0]) {
      const xe = along(-2)
      const fe = F(xe)
      if (fe < fr) { pts[n] = xe; vals[n] = fe } else { pts[n] = xr; vals[n] = fr }
    } else if (fr < vals[n - 1]) {
      pts[n] = xr; vals[n] = fr
    } else {
      const outside = fr < vals[n]
      const xc = along(outside ? -0.5 : 0.5)
      const fc = F(xc)
      if (fc < (outside ? fr : vals[n])) {
        pts[n] = xc; vals[n] = fc
      } else {
        for (let i = 1; i <= n; i++) {
          pts[i] = pts[i].map((v, j) => pts[0][j] + 0.5 * (v - pts[0][j]))
          vals[i] = F(pts[i])
        }
      }
    }
  }
  let best = 0
  for (let i = 1; i <= n; i++) if (vals[i] < vals[best]) best = i
  return { x: pts[best], f: vals[best], evaluations: evals }
}
