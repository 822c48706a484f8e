import type {Scores} from '../model/metrics.js'
import {score} from '../model/metrics.js'
import type {AciSettings} from '../stats/intervals.js'
import {type BaselineByHorizon, type HorizonOutcome, baselinesByHorizon, meanRmse, policyHorizons} from './horizons.js'
import type {SimulationRun} from './run.js'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

export interface ChangePoint {
  at: string
  description: string
}

export interface ChangePointOutcome {
  changePoint: ChangePoint
  /** First retrain decision of the policy at or after the change (null: none). */
  detectedAt: string | null
  detectionDelayHours: number | null
  /** First promotion at or after the change. */
  firstPromotionAt: string | null
  /** First retrain decided by a drift signal (not the schedule or the age limit) after the change. */
  detectedByDriftAt: string | null
  driftDetectionDelayHours: number | null
  /** RMSE by period relative to the change, on target times. */
  rmse: PeriodValues
  /**
   * 1 − RMSE / persistence RMSE in the same period: comparable across the change even when the
   * change makes every forecast harder (a scaled series has larger errors whatever the model).
   */
  skill: PeriodValues
}

export interface PeriodValues {
  before28d: number | null
  after0to7d: number | null
  after7to14d: number | null
  after14to28d: number | null
  after28to56d: number | null
}

export interface PolicySummary {
  name: string
  /** The longest horizon's scores (what drift watches). */
  overall: Scores
  /** Mean RMSE over every horizon: the number a policy is judged by. */
  meanRmse: number
  horizons: HorizonOutcome[]
  monthly: {month: string; rmse: number; n: number}[]
  retrains: number
  promotions: number
  driftChecks: number
  dataDriftChecks: number
  conceptDriftChecks: number
  events: SimulationRun['policies'][number]['events']
  changePoints: ChangePointOutcome[]
}

export interface SimulationSummary {
  servingFrom: string
  servingTo: string
  hoursScored: number
  persistence: {overall: Scores; monthly: {month: string; rmse: number; n: number}[]}
  /** Persistence and seasonal-naive at every horizon, on the same rows. */
  baselines: BaselineByHorizon[]
  policies: PolicySummary[]
  fits: number
  fitSeconds: number
}

function rmseOf(actual: number[], predicted: number[]): number | null {
  return actual.length ? score(actual, predicted).rmse : null
}

/** Scores every policy on the same hours (target times from serving start on) and the persistence baseline. */
export function summarize(run: SimulationRun, changePoints: ChangePoint[], aci: AciSettings): SimulationSummary {
  const {rows} = run.series
  const h = run.series.featureConfig.horizonHours * HOUR_MS
  const idx = rows.time.map((_, i) => i).filter((i) => i >= run.servingStartIndex)
  const actual = idx.map((i) => rows.actual[i]!)
  const month = (i: number) => new Date(rows.time[i]! + h).toISOString().slice(0, 7)
  const months = [...new Set(idx.map(month))]
  const monthly = (predicted: (i: number) => number) => months.map((m) => {
    const sel = idx.filter((i) => month(i) === m)
    const s = score(sel.map((i) => rows.actual[i]!), sel.map(predicted))
    return {month: m, rmse: s.rmse, n: s.n}
  })
  const within = (pred: (i: number) => number, from: number, to: number) => {
    const sel = idx.filter((i) => rows.time[i]! + h >= from && rows.time[i]! + h < to)
    return rmseOf(sel.map((i) => rows.actual[i]!), sel.map(pred))
  }
  const periods = (pred: (i: number) => number, at: number): PeriodValues => ({
    before28d: within(pred, at - 28 * DAY_MS, at),
    after0to7d: within(pred, at, at + 7 * DAY_MS),
    after7to14d: within(pred, at + 7 * DAY_MS, at + 14 * DAY_MS),
    after14to28d: within(pred, at + 14 * DAY_MS, at + 28 * DAY_MS),
    after28to56d: within(pred, at + 28 * DAY_MS, at + 56 * DAY_MS),
  })
  const persistenceByChange = new Map(changePoints.map((cp) => [cp.at, periods((i) => rows.current[i]!, Date.parse(cp.at))]))
  const policies = run.policies.map((p): PolicySummary => {
    const horizons = policyHorizons(run, p, idx, aci)
    return {
    name: p.name,
    overall: score(actual, idx.map((i) => p.predictions[i]!)),
    meanRmse: meanRmse(horizons),
    horizons,
    monthly: monthly((i) => p.predictions[i]!),
    retrains: p.events.length,
    promotions: p.events.filter((e) => e.promoted).length,
    driftChecks: p.checks,
    dataDriftChecks: p.dataDriftChecks,
    conceptDriftChecks: p.conceptDriftChecks,
    events: p.events,
    changePoints: changePoints.map((cp) => {
      const at = Date.parse(cp.at)
      const detected = p.events.find((e) => Date.parse(e.at) >= at)
      const promoted = p.events.find((e) => Date.parse(e.at) >= at && e.promoted)
      // A check at the change instant cannot see it yet (its newest labelled row is older): strictly after.
      const byDrift = p.events.find((e) => Date.parse(e.at) > at && (e.trigger === 'concept_drift' || e.trigger === 'data_drift'))
      const rmse = periods((i) => p.predictions[i]!, at)
      const reference = persistenceByChange.get(cp.at)!
      const skill = Object.fromEntries(Object.entries(rmse).map(([k, v]) => {
        const base = reference[k as keyof PeriodValues]
        return [k, v === null || !base ? null : 1 - v / base]
      })) as unknown as PeriodValues
      return {
        changePoint: cp,
        detectedAt: detected?.at ?? null,
        detectionDelayHours: detected ? (Date.parse(detected.at) - at) / HOUR_MS : null,
        firstPromotionAt: promoted?.at ?? null,
        detectedByDriftAt: byDrift?.at ?? null,
        driftDetectionDelayHours: byDrift ? (Date.parse(byDrift.at) - at) / HOUR_MS : null,
        rmse,
        skill,
      }
    }),
  }
  })
  return {
    servingFrom: new Date(rows.time[run.servingStartIndex]! + h).toISOString(),
    servingTo: new Date(rows.time.at(-1)! + h).toISOString(),
    hoursScored: idx.length,
    persistence: {overall: score(actual, idx.map((i) => rows.current[i]!)), monthly: monthly((i) => rows.current[i]!)},
    baselines: baselinesByHorizon(run, [...(run.policies[0]?.paths.keys() ?? [])].sort((a, b) => a - b), idx),
    policies,
    fits: run.fits,
    fitSeconds: run.fitSeconds,
  }
}

/** Rolling RMSE (trailing `days`, sampled daily) per policy, for the plot. */
export function rollingRmse(run: SimulationRun, days: number): {time: string; series: string; rmse: number}[] {
  const {rows} = run.series
  const h = run.series.featureConfig.horizonHours * HOUR_MS
  const out: {time: string; series: string; rmse: number}[] = []
  const first = rows.time[run.servingStartIndex]! + h
  const last = rows.time.at(-1)! + h
  const series: {name: string; pred: (i: number) => number}[] = [
    ...run.policies.map((p) => ({name: p.name, pred: (i: number) => p.predictions[i]!})),
    {name: 'persistence', pred: (i: number) => rows.current[i]!},
  ]
  for (let end = first + days * DAY_MS; end <= last + HOUR_MS; end += DAY_MS) {
    const sel: number[] = []
    for (let i = run.servingStartIndex; i < rows.time.length; i++) {
      const target = rows.time[i]! + h
      if (target >= end - days * DAY_MS && target < end) sel.push(i)
    }
    if (sel.length < 24) continue
    for (const s of series) {
      const r = rmseOf(sel.map((i) => rows.actual[i]!), sel.map(s.pred))
      if (r !== null) out.push({time: new Date(end).toISOString(), series: s.name, rmse: r})
    }
  }
  return out
}
