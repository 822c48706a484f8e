/**
 * Prediction intervals by split conformal prediction: the band of horizon h at level L is the
 * point forecast ± the ⌈(n+1)·L⌉-th smallest absolute residual of n held-out rows. When those rows
 * and the future are exchangeable, the band covers the truth with probability >= L (Vovk et al.;
 * Lei et al. 2018). Weather errors drift with the season, so the holdout coverage is also measured
 * honestly (bands from the holdout's first half, scored on its second half) and compare gates on it.
 */

/** Per horizon (hours, as a string key) and level (e.g. "0.8"): a number. */
export type ByHorizonLevel = Record<string, Record<string, number>>

export interface Calibration {
  method: 'split-conformal'
  levels: number[]
  /** Held-out rows each horizon's half-widths were taken from. */
  rows: number
  /** The band's half-width (°C): value ± halfWidth. */
  halfWidth: ByHorizonLevel
  /** Share of the holdout's second half inside bands calibrated on its first half. */
  holdoutCoverage: ByHorizonLevel
}

/** The key a level is stored under: 0.8 -> "0.8". */
export function levelKey(level: number): string {
  return String(level)
}

/** The label a level goes by in an answer: 0.8 -> "80", 0.95 -> "95". */
export function levelLabel(level: number): string {
  return String(Math.round(level * 1000) / 10)
}

/**
 * The conformal half-width: the ⌈(n+1)·level⌉-th smallest absolute residual. With fewer rows
 * than that rank needs, the largest residual (the guarantee then does not hold; no held-out row
 * means no band at all: Infinity).
 */
export function conformalHalfWidth(absResiduals: number[], level: number): number {
  const n = absResiduals.length
  if (n === 0) return Number.POSITIVE_INFINITY
  const sorted = Float64Array.from(absResiduals).sort()
  const rank = Math.ceil((n + 1) * level)
  return sorted[Math.min(rank, n) - 1]!
}

/** Share of |residual| <= halfWidth. */
export function coverage(absResiduals: number[], halfWidth: number): number {
  if (absResiduals.length === 0) return Number.NaN
  let inside = 0
  for (const r of absResiduals) if (r <= halfWidth) inside++
  return inside / absResiduals.length
}

/** Calibrates every horizon's bands from its held-out absolute residuals (oldest first). */
export function calibrate(absResidualsByHorizon: Map<number, number[]>, levels: number[]): Calibration {
  const halfWidth: ByHorizonLevel = {}
  const holdoutCoverage: ByHorizonLevel = {}
  let rows = 0
  for (const [h, residuals] of absResidualsByHorizon) {
    rows = residuals.length
    const half = Math.floor(residuals.length / 2)
    const first = residuals.slice(0, half)
    const second = residuals.slice(half)
    halfWidth[String(h)] = Object.fromEntries(levels.map((l) => [levelKey(l), conformalHalfWidth(residuals, l)]))
    holdoutCoverage[String(h)] = Object.fromEntries(levels.map((l) => [levelKey(l), coverage(second, conformalHalfWidth(first, l))]))
  }
  return {method: 'split-conformal', levels, rows, halfWidth, holdoutCoverage}
}

/** |predicted - actual| per row. */
export function absResiduals(predicted: number[], actual: number[]): number[] {
  return predicted.map((p, i) => Math.abs(p - actual[i]!))
}
