/** Population Stability Index of current values against reference quantile edges. */
export interface PsiResult {
  psi: number
  /** Per bin: the reference share and the current share. */
  bins: {expected: number; actual: number}[]
}

/** Shares below this are floored so a zero share never makes PSI infinite. */
const FLOOR = 1e-4

/**
 * PSI = Σ (actual − expected) · ln(actual / expected) over the bins cut by `edges` (k edges make
 * k+1 bins). With decile edges of the training data every expected share is 0.1. Usual reading:
 * < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 significant shift.
 */
export function psi(edges: number[], current: number[], expected?: number[]): PsiResult {
  const bins = edges.length + 1
  const expectedShares = expected ?? new Array<number>(bins).fill(1 / bins)
  const counts = new Array<number>(bins).fill(0)
  for (const v of current) {
    let b = 0
    while (b < edges.length && v > edges[b]!) b++
    counts[b]!++
  }
  const n = Math.max(1, current.length)
  let total = 0
  const out = counts.map((c, i) => {
    // Half a count of smoothing per bin: an empty bin in a small sample is not evidence of drift.
    const a = Math.max(FLOOR, (c + 0.5) / (n + 0.5 * bins))
    const e = Math.max(FLOOR, expectedShares[i]!)
    total += (a - e) * Math.log(a / e)
    return {expected: expectedShares[i]!, actual: c / n}
  })
  return {psi: total, bins: out}
}

/** Two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical CDFs. */
export function ksStatistic(a: number[], b: number[]): number {
  const x = [...a].sort((p, q) => p - q)
  const y = [...b].sort((p, q) => p - q)
  let i = 0
  let j = 0
  let d = 0
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!)
    while (i < x.length && x[i]! <= v) i++
    while (j < y.length && y[j]! <= v) j++
    d = Math.max(d, Math.abs(i / x.length - j / y.length))
  }
  return d
}
