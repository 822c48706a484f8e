import {type Scores, score} from '../model/metrics.js'
import {forHorizon} from '../model/dataset.js'
import {type AciSettings, conformalHalfWidth} from '../stats/intervals.js'
import type {PolicyRun, SimulationRun} from './run.js'

const HOUR_MS = 3_600_000

/** One band level of one horizon over the served year. */
export interface BandOutcome {
  /** Share of targets inside the champion's calibrated (split-conformal) band. */
  staticCoverage: number
  /** Share inside the live band (adaptive conformal inference replayed as rps serve keeps it). */
  liveCoverage: number
  /** Mean half-widths (°C). */
  staticMeanHalfWidth: number
  liveMeanHalfWidth: number
  /** Live coverage per calendar month of target times (months under 3 days left out). */
  liveMonthly: {month: string; coverage: number; n: number}[]
}

export interface HorizonOutcome {
  horizon: number
  scores: Scores
  /** Keyed by level ("0.8"). */
  bands: Record<string, BandOutcome>
}

export interface BaselineByHorizon {
  horizon: number
  persistence: Scores
  seasonal: Scores
}

/**
 * The live band of one horizon and level over a policy's forecasts, as rps serve keeps it: each
 * champion starts from its calibrated half-width and, once 24 of its own forecasts are scored,
 * answers with adaptive conformal inference (Gibbs & Candès 2021) over its newest residuals. A
 * forecast's residual is known only when its target hour is observed (h hours after issue), so the
 * band issued at hour t uses the residuals whose targets are at or before t. Returns each issued
 * row's half-width (NaN where no forecast was issued).
 */
export function liveHalfWidths(time: number[], predicted: Float64Array, actual: number[], championIndex: Int32Array, calibrated: Float64Array, horizonHours: number, level: number, aci: AciSettings): Float64Array {
  const n = time.length
  const out = new Float64Array(n).fill(Number.NaN)
  let version = -2
  let alpha = 1 - level
  let residuals: number[] = []
  let next = 0
  const widthNow = (fallback: number) => {
    if (residuals.length < aci.minResiduals) return fallback
    const recent = residuals.slice(-aci.window)
    if (alpha <= 0) return Math.max(...recent)
    if (alpha >= 1) return 0
    return conformalHalfWidth(recent, 1 - alpha)
  }
  for (let i = 0; i < n; i++) {
    if (championIndex[i]! < 0) {
      next = i + 1
      continue
    }
    if (championIndex[i] !== version) {
      version = championIndex[i]!
      alpha = 1 - level
      residuals = []
      next = i
    }
    // Residuals of this champion's forecasts whose target hour has been observed by now.
    while (next < i && time[next]! + horizonHours * HOUR_MS <= time[i]!) {
      const r = Math.abs(predicted[next]! - actual[next]!)
      alpha += aci.gamma * (1 - level - (r > out[next]! ? 1 : 0))
      residuals.push(r)
      if (residuals.length > aci.window) residuals.shift()
      next++
    }
    out[i] = widthNow(calibrated[i]!)
  }
  return out
}

function monthOf(t: number): string {
  return new Date(t).toISOString().slice(0, 7)
}

function bandOutcome(idx: number[], time: number[], predicted: Float64Array, actual: number[], staticWidths: Float64Array, liveWidths: Float64Array, horizonHours: number): BandOutcome {
  let inStatic = 0
  let inLive = 0
  let sumStatic = 0
  let sumLive = 0
  const months = new Map<string, {inside: number; n: number}>()
  for (const i of idx) {
    const r = Math.abs(predicted[i]! - actual[i]!)
    if (r <= staticWidths[i]!) inStatic++
    const live = r <= liveWidths[i]!
    if (live) inLive++
    sumStatic += staticWidths[i]!
    sumLive += liveWidths[i]!
    const m = monthOf(time[i]! + horizonHours * HOUR_MS)
    const entry = months.get(m) ?? {inside: 0, n: 0}
    entry.n++
    if (live) entry.inside++
    months.set(m, entry)
  }
  const n = idx.length
  return {
    staticCoverage: inStatic / n, liveCoverage: inLive / n, staticMeanHalfWidth: sumStatic / n, liveMeanHalfWidth: sumLive / n,
    liveMonthly: [...months].filter(([, e]) => e.n >= 72).map(([month, e]) => ({month, coverage: e.inside / e.n, n: e.n})),
  }
}

/** Every horizon's scores and band coverage of one policy, on the served rows `idx`. */
export function policyHorizons(run: SimulationRun, policy: PolicyRun, idx: number[], aci: AciSettings): HorizonOutcome[] {
  const {rows} = run.series
  return [...policy.paths].sort((a, b) => a[0] - b[0]).map(([h, predicted]) => {
    const actual = forHorizon(rows, h).actual
    const bands: Record<string, BandOutcome> = {}
    for (const [level, staticWidths] of policy.halfWidths.get(h) ?? []) {
      const live = liveHalfWidths(rows.time, predicted, actual, policy.championIndex, staticWidths, h, Number(level), aci)
      bands[level] = bandOutcome(idx, rows.time, predicted, actual, staticWidths, live, h)
    }
    return {horizon: h, scores: score(idx.map((i) => actual[i]!), idx.map((i) => predicted[i]!)), bands}
  })
}

/** Persistence and seasonal-naive at every horizon on the same rows. */
export function baselinesByHorizon(run: SimulationRun, horizons: number[], idx: number[]): BaselineByHorizon[] {
  const {rows} = run.series
  return horizons.map((h) => {
    const r = forHorizon(rows, h)
    const actual = idx.map((i) => r.actual[i]!)
    return {horizon: h, persistence: score(actual, idx.map((i) => r.current[i]!)), seasonal: score(actual, idx.map((i) => r.seasonal[i]!))}
  })
}

/** Mean RMSE over the horizons: what the compare gate and the policy targets judge a path by. */
export function meanRmse(outcomes: {scores: Scores}[]): number {
  return outcomes.reduce((sum, o) => sum + o.scores.rmse, 0) / outcomes.length
}
