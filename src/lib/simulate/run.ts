import {type Decision, type PathRules, judgePath} from '../model/compare.js'
import {type ModelRows, sliceRows} from '../model/dataset.js'
import {fitModel, type FitResult} from '../model/fit.js'
import type {LoadedModel} from '../model/model-dir.js'
import type {ModelSection} from '../model/settings.js'
import {horizonsOf} from '../features/config.js'
import {levelKey} from '../stats/intervals.js'
import {type DriftReport, type DriftSettings, assessDrift} from '../drift/detect.js'
import type {ReplayedSeries} from './series.js'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

export type PolicySpec = {kind: 'static'} | {kind: 'periodic'; everyHours: number} | {kind: 'drift'}

export interface SimulationSettings {
  /** Models start serving here; everything before is the initial training history. */
  servingStart: number
  checkEveryHours: number
  policies: PolicySpec[]
  section: ModelSection
  drift: DriftSettings
  /** The compare gate of rps compare: mean RMSE over the path, each horizon, band coverage. */
  rules: PathRules
  provenance: {dataVersion: string; codeVersion: string; rpsVersion: string}
  onProgress?: (line: string) => void
}

export interface PolicyEvent {
  at: string
  trigger: string
  reason: string
  decision: Decision
  /** Mean RMSE over the horizons on the challenger's holdout. */
  challengerRmse: number
  championRmse: number
  /** Why the challenger lost (the gate's rules it broke). */
  failures: string[]
  promoted: boolean
  /** Newest training row of the challenger. */
  trainedThrough: string
}

export interface PolicyRun {
  name: string
  spec: PolicySpec
  /** Issue-time-ordered predictions of target(t+h) at the longest horizon, NaN before serving starts. */
  predictions: Float64Array
  /** The same per horizon (the longest's is `predictions`). */
  paths: Map<number, Float64Array>
  /** The serving champion's calibrated band half-width per horizon and level key, per issued row. */
  halfWidths: Map<number, Map<string, Float64Array>>
  /** Which champion (0: the initial model, +1 per promotion) issued each row. */
  championIndex: Int32Array
  events: PolicyEvent[]
  checks: number
  /** Checks whose window showed data drift (PSI) / concept drift (error signals), whatever the decision. */
  dataDriftChecks: number
  conceptDriftChecks: number
}

export interface SimulationRun {
  series: ReplayedSeries
  servingStartIndex: number
  policies: PolicyRun[]
  fits: number
  fitSeconds: number
}

export function policyName(spec: PolicySpec): string {
  if (spec.kind === 'periodic') return spec.everyHours % 24 === 0 ? `periodic-${spec.everyHours / 24}d` : `periodic-${spec.everyHours}h`
  return spec.kind === 'drift' ? 'drift-triggered' : 'static'
}

/** The number of rows issued before `t` (`inclusive`: at or before). Rows are time-ordered. */
function countIssued(rows: ModelRows, t: number, inclusive: boolean): number {
  let lo = 0
  let hi = rows.time.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (rows.time[mid]! < t || (inclusive && rows.time[mid] === t)) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Rows whose ground truth has arrived by `t`: the label of the row issued at r is observed at r + horizon. */
export function labelledBy(rows: ModelRows, t: number, horizonHours: number): number {
  return countIssued(rows, t - horizonHours * HOUR_MS, true)
}

/** The first row issued at or after `t`. */
function firstIndexAtOrAfter(rows: ModelRows, t: number): number {
  return countIssued(rows, t, false)
}

/** What the drift decision says triggered it (the same categories promotions record). */
export function triggerOf(report: DriftReport): string {
  const trigger = (report.decision as {trigger?: string}).trigger
  if (trigger) return trigger
  if (/ h old \(max /.test(report.decision.reason)) return 'max_age'
  return report.chunks.some((c) => c.flagged) ? 'concept_drift' : 'data_drift'
}

interface PolicyState {
  run: PolicyRun
  champion: LoadedModel
  /** Promotions so far: the serving champion's index. */
  promotions: number
  lastTrainedAt: number
  /** Data end of the newest challenger, promoted or not: the drift cooldown counts from it. */
  lastTrainingEnd: string | undefined
  /** Challengers in a row that lost to the current champion (the drift cooldown backs off with them). */
  losingChallengers: number
  predictedUntil: number
}

/**
 * Replays the series hour by hour for every policy in lockstep. At each check time (every
 * `checkEveryHours`) a policy may retrain: the challenger is fitted on the rows whose ground truth
 * has arrived, scored against the policy's champion on the same freshest holdout, and promoted
 * only if the compare gate passes. Between checks each policy's champion forecasts every hour.
 * Policies that retrain at the same instant share one fit (same rows, same seed: same model).
 */
export async function simulate(series: ReplayedSeries, settings: SimulationSettings): Promise<SimulationRun> {
  const {rows} = series
  const h = series.featureConfig.horizonHours
  const horizons = horizonsOf(series.featureConfig)
  const progress = settings.onProgress ?? (() => {})
  const start = firstIndexAtOrAfter(rows, settings.servingStart)
  if (start >= rows.time.length) throw new Error('the series ends before serving starts')
  let fits = 0
  let fitSeconds = 0
  const fitAt = async (t: number): Promise<FitResult> => {
    const available = sliceRows(rows, 0, labelledBy(rows, t, h))
    const started = performance.now()
    const fitted = await fitModel({rows: available, features: series.features, featureConfig: series.featureConfig, section: settings.section, provenance: settings.provenance, driftWindowHours: settings.drift.window_hours})
    fits++
    fitSeconds += (performance.now() - started) / 1000
    return fitted
  }
  const initial = await fitAt(settings.servingStart)
  const n = rows.time.length
  const levels = initial.meta.calibration?.levels ?? []
  const states: PolicyState[] = settings.policies.map((spec) => {
    const paths = new Map(horizons.map((x) => [x, new Float64Array(n).fill(Number.NaN)]))
    return {
      run: {
        name: policyName(spec), spec, predictions: paths.get(h)!, paths,
        halfWidths: new Map(horizons.map((x) => [x, new Map(levels.map((l) => [levelKey(l), new Float64Array(n).fill(Number.NaN)]))])),
        championIndex: new Int32Array(n).fill(-1),
        events: [], checks: 0, dataDriftChecks: 0, conceptDriftChecks: 0,
      },
      champion: initial.model,
      promotions: 0,
      lastTrainedAt: settings.servingStart,
      lastTrainingEnd: undefined,
      losingChallengers: 0,
      predictedUntil: start,
    }
  })
  const predictUntil = (state: PolicyState, end: number) => {
    if (end <= state.predictedUntil) return
    const part = sliceRows(rows, state.predictedUntil, end)
    const {run, champion} = state
    for (const x of horizons) {
      run.paths.get(x)!.set(champion.predictHorizon(x, part.X, part.current), state.predictedUntil)
      for (const [level, widths] of run.halfWidths.get(x)!) widths.fill(champion.meta.calibration?.halfWidth[String(x)]?.[level] ?? Number.NaN, state.predictedUntil, end)
    }
    run.championIndex.fill(state.promotions, state.predictedUntil, end)
    state.predictedUntil = end
  }
  const last = rows.time.at(-1)!
  for (let t = settings.servingStart + settings.checkEveryHours * HOUR_MS; t <= last; t += settings.checkEveryHours * HOUR_MS) {
    const issuedBefore = firstIndexAtOrAfter(rows, t)
    const available = labelledBy(rows, t, h)
    const wanting: {state: PolicyState; trigger: string; reason: string}[] = []
    for (const state of states) {
      predictUntil(state, issuedBefore)
      const {spec} = state.run
      if (spec.kind === 'periodic' && t - state.lastTrainedAt >= spec.everyHours * HOUR_MS) {
        wanting.push({state, trigger: 'schedule', reason: `every ${spec.everyHours} h`})
      } else if (spec.kind === 'drift') {
        state.run.checks++
        const report = assessDrift(state.champion, sliceRows(rows, 0, available), settings.drift, state.lastTrainingEnd, state.losingChallengers)
        if (report.dataDrift) state.run.dataDriftChecks++
        if (report.conceptDrift) state.run.conceptDriftChecks++
        if (report.decision.retrain) wanting.push({state, trigger: triggerOf(report), reason: report.decision.reason})
      }
    }
    if (wanting.length === 0) continue
    // Every retrain at this instant trains on the same rows with the same seed: one fit, as the DAG's rps train would give.
    const challenger = await fitAt(t)
    for (const {state, trigger, reason} of wanting) {
      const holdout = challenger.split.holdout
      state.lastTrainedAt = t
      state.lastTrainingEnd = challenger.meta.split.end
      const verdict = judgePath(challenger.model, state.champion, holdout, holdout, settings.rules)
      const decision: Decision = verdict.failures.length ? 'challenger_loses' : 'challenger_wins'
      const promoted = decision === 'challenger_wins'
      if (promoted) {
        state.champion = challenger.model
        state.promotions++
      }
      state.losingChallengers = promoted ? 0 : state.losingChallengers + 1
      state.run.events.push({
        at: new Date(t).toISOString(), trigger, reason, decision, challengerRmse: verdict.challengerMeanRmse, championRmse: verdict.championMeanRmse!, failures: verdict.failures, promoted,
        trainedThrough: challenger.meta.split.validationStart,
      })
    }
    const day = Math.round((t - settings.servingStart) / DAY_MS)
    if (day % 30 === 0) progress(`day ${day}: ${fits} fits, ${fitSeconds.toFixed(0)} s fitting`)
  }
  for (const state of states) predictUntil(state, rows.time.length)
  return {series, servingStartIndex: start, policies: states.map((s) => s.run), fits, fitSeconds}
}
