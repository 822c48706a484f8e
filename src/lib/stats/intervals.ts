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

/** Coverage of the residuals' second half by the band calibrated on their first half (oldest first). */
export function honestCoverage(absResiduals: number[], level: number): number {
  const half = Math.floor(absResiduals.length / 2)
  return coverage(absResiduals.slice(half), conformalHalfWidth(absResiduals.slice(0, half), level))
}

/** Calibrates every horizon's bands from its held-out absolute residuals (oldest first). */
export function calibrate(absResidualsByHorizon: Map<number, number[]>, levels: number[]): Calibration {
  const halfWidth: ByHorizonLevel = {}
  const holdoutCoverage: ByHorizonLevel = {}
  let rows = 0
  for (const [h, residuals] of absResidualsByHorizon) {
    rows = residuals.length
    halfWidth[String(h)] = Object.fromEntries(levels.map((l) => [levelKey(l), conformalHalfWidth(residuals, l)]))
    holdoutCoverage[String(h)] = Object.fromEntries(levels.map((l) => [levelKey(l), honestCoverage(residuals, l)]))
  }
  return {method: 'split-conformal', levels, rows, halfWidth, holdoutCoverage}
}

/** |predicted - actual| per row. */
export function absResiduals(predicted: number[], actual: number[]): number[] {
  return predicted.map((p, i) => Math.abs(p - actual[i]!))
}

/** A band kept calibrated online from live errors: its state after the newest scored forecast. */
export interface LiveBand {
  /** The miscoverage rate ACI aims its next band at (starts at 1 - level). */
  alpha: number
  /** The next band's half-width. */
  halfWidth: number
  /** Share of the scored forecasts that fell inside the band they were given. */
  coverage: number | null
  n: number
}

export interface AciSettings {
  /** Step size: how fast alpha reacts to a miss (Gibbs & Candès use 0.005). */
  gamma: number
  /** The live residuals each band is taken from: the newest this many. */
  window: number
  /** Fewer live residuals than this: the model's calibrated half-width is used. */
  minResiduals: number
}

export const DEFAULT_ACI: AciSettings = {gamma: 0.005, window: 336, minResiduals: 24}

/**
 * Adaptive conformal inference (Gibbs & Candès 2021) over one horizon's live absolute residuals,
 * oldest first: each forecast's band is the (1 - alpha_t) quantile of the residuals before it (the
 * model's calibrated half-width until there are enough), and after each outcome
 * alpha_{t+1} = alpha_t + gamma * (1 - level - miss_t). Whatever the data do, the long-run miss rate
 * stays within (max(alpha_1, 1 - alpha_1) + gamma) / (gamma * T) of 1 - level (their Proposition 4.1).
 * Replayed from the log on every run: no state to lose or corrupt.
 */
export function adaptiveBand(absResidualsOldestFirst: number[], level: number, calibratedHalfWidth: number, settings: AciSettings = DEFAULT_ACI): LiveBand {
  let alpha = 1 - level
  let misses = 0
  const width = (t: number) => {
    if (t < settings.minResiduals) return calibratedHalfWidth
    const recent = absResidualsOldestFirst.slice(Math.max(0, t - settings.window), t)
    if (alpha <= 0) return Math.max(...recent)
    if (alpha >= 1) return 0
    return conformalHalfWidth(recent, 1 - alpha)
  }
  const n = absResidualsOldestFirst.length
  for (let t = 0; t < n; t++) {
    const miss = absResidualsOldestFirst[t]! > width(t) ? 1 : 0
    misses += miss
    alpha += settings.gamma * (1 - level - miss)
  }
  return {alpha, halfWidth: width(n), coverage: n ? 1 - misses / n : null, n}
}
