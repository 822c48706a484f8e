import {join} from 'node:path'

import {type AciSettings, DEFAULT_ACI, type LiveBand, adaptiveBand, levelKey} from '../stats/intervals.js'
import {workDir} from '../util/project.js'
import type {PredictionRecord} from './prediction-log.js'

const HOUR_MS = 3_600_000

/** The rolling windows, in hours, measured back from the newest scored target time. */
export const LIVE_WINDOWS: Record<string, number> = {'24h': 24, '7d': 168}

export interface ErrorStats {
  mae: number | null
  rmse: number | null
  n: number
}

export interface WindowErrors {
  hours: number
  /** Targets after `start` up to and including `end` (ISO); null when nothing is scored yet. */
  start: string | null
  end: string | null
  model: ErrorStats
  persistence: ErrorStats
}

export interface VersionErrors {
  name: string
  model: ErrorStats
  persistence: ErrorStats
  first_target_time: string
  last_target_time: string
}

/** One horizon's live errors and band coverage, per rolling window. */
export interface HorizonErrors {
  windows: Record<string, {model: ErrorStats; persistence: ErrorStats; coverage: Record<string, number | null>; with_bands: number}>
}

/** The live bands of one model version: adaptive conformal inference replayed over its scored forecasts. */
export interface LiveIntervals {
  version: string
  gamma: number
  window: number
  /** Per horizon and level: the next band's half-width, alpha and the coverage so far. */
  by_horizon: Record<string, Record<string, LiveBand>>
}

/** reports/live/live-errors.json: what rps serve exposes as rps_live_error_* gauges. */
export interface LiveErrors {
  updated_at: string
  /** The newest hour of the observation history (ISO), the data clock. */
  data_end: string | null
  target: string
  /** The longest horizon, the one `windows` and `by_version` score (absent in older files: every record). */
  horizon_hours?: number
  windows: Record<string, WindowErrors>
  by_version: Record<string, VersionErrors>
  /** Every horizon's live errors and band coverage. */
  by_horizon?: Record<string, HorizonErrors>
  /** The served version's live bands (absent until it has a calibration and forecasts). */
  intervals?: LiveIntervals | null
  /** `client`: lines rps serve logged for its clients' observations requests, never scored. */
  predictions: {logged: number; client: number; unique: number; scored: number; pending: number; unobserved: number; malformed: number}
}

/** Hours between a record's issue and target time. */
export function leadHours(record: PredictionRecord): number {
  return record.horizon ?? Math.round((Date.parse(record.target_time) - Date.parse(record.issued_at)) / HOUR_MS)
}

export interface ScoredPrediction {
  record: PredictionRecord
  targetMs: number
  actual: number
  /** prediction - actual */
  error: number
  /** persistence - actual */
  persistenceError: number
}

/** RPS_LIVE_ERRORS_FILE, else <workdir>/reports/live/live-errors.json. */
export function liveErrorsPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.RPS_LIVE_ERRORS_FILE || join(workDir(), 'reports/live/live-errors.json')
}

/**
 * One record per (issued_at, target_time, model name, version), the first logged: a rerun of
 * `rps forecast` or a client asking twice for the same hour must not weigh that hour twice.
 */
export function dedupePredictions(records: PredictionRecord[]): PredictionRecord[] {
  const seen = new Set<string>()
  return records.filter((r) => {
    const key = `${Date.parse(r.issued_at)}|${Date.parse(r.target_time)}|${r.model.name}|${r.model.version}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/**
 * Joins predictions with the observed target: `observed(ms)` is the target's value at that hour, or
 * undefined/null when unknown. Targets after `dataEnd` are pending; targets inside the history
 * without a value (a gap longer than the fill limit) are unobserved and never scored.
 */
export function scorePredictions(records: PredictionRecord[], observed: (ms: number) => number | null | undefined, dataEnd: number | undefined) {
  const scored: ScoredPrediction[] = []
  let pending = 0
  let unobserved = 0
  for (const record of records) {
    const targetMs = Date.parse(record.target_time)
    const actual = observed(targetMs)
    if (typeof actual === 'number' && Number.isFinite(actual)) {
      scored.push({record, targetMs, actual, error: record.prediction - actual, persistenceError: record.persistence - actual})
    } else if (dataEnd === undefined || targetMs > dataEnd) pending++
    else unobserved++
  }
  return {scored, pending, unobserved}
}

export function errorStats(errors: number[]): ErrorStats {
  if (errors.length === 0) return {mae: null, rmse: null, n: 0}
  let abs = 0
  let sq = 0
  for (const e of errors) {
    abs += Math.abs(e)
    sq += e * e
  }
  return {mae: abs / errors.length, rmse: Math.sqrt(sq / errors.length), n: errors.length}
}

/** Rolling windows (data clock) and per-version totals over scored predictions. */
export function summarizeErrors(scored: ScoredPrediction[], windows: Record<string, number> = LIVE_WINDOWS) {
  const end = scored.reduce((m, s) => Math.max(m, s.targetMs), -Infinity)
  const out: Record<string, WindowErrors> = {}
  for (const [name, hours] of Object.entries(windows)) {
    if (scored.length === 0) {
      out[name] = {hours, start: null, end: null, model: errorStats([]), persistence: errorStats([])}
      continue
    }
    const start = end - hours * HOUR_MS
    const inWindow = scored.filter((s) => s.targetMs > start)
    out[name] = {
      hours, start: new Date(start).toISOString(), end: new Date(end).toISOString(),
      model: errorStats(inWindow.map((s) => s.error)), persistence: errorStats(inWindow.map((s) => s.persistenceError)),
    }
  }
  const groups = new Map<string, ScoredPrediction[]>()
  for (const s of scored) groups.set(s.record.model.version, [...(groups.get(s.record.model.version) ?? []), s])
  const byVersion: Record<string, VersionErrors> = {}
  for (const [version, rows] of [...groups].sort((a, b) => a[1][0]!.targetMs - b[1][0]!.targetMs)) {
    const times = rows.map((s) => s.targetMs)
    byVersion[version] = {
      name: rows[0]!.record.model.name,
      model: errorStats(rows.map((s) => s.error)), persistence: errorStats(rows.map((s) => s.persistenceError)),
      first_target_time: new Date(Math.min(...times)).toISOString(), last_target_time: new Date(Math.max(...times)).toISOString(),
    }
  }
  return {windows: out, byVersion}
}

/** Per horizon and rolling window: errors and the share of forecasts inside each of their bands. */
export function summarizeHorizons(scored: ScoredPrediction[], windows: Record<string, number> = LIVE_WINDOWS): Record<string, HorizonErrors> {
  const end = scored.reduce((m, s) => Math.max(m, s.targetMs), -Infinity)
  const byHorizon = new Map<number, ScoredPrediction[]>()
  for (const s of scored) {
    const h = leadHours(s.record)
    byHorizon.set(h, [...(byHorizon.get(h) ?? []), s])
  }
  const out: Record<string, HorizonErrors> = {}
  for (const [h, rows] of [...byHorizon].sort((a, b) => a[0] - b[0])) {
    out[String(h)] = {windows: Object.fromEntries(Object.entries(windows).map(([name, hours]) => {
      const inWindow = rows.filter((s) => s.targetMs > end - hours * HOUR_MS)
      const banded = inWindow.filter((s) => s.record.bands)
      const levels = [...new Set(banded.flatMap((s) => Object.keys(s.record.bands!)))].sort()
      const coverage = Object.fromEntries(levels.map((level) => {
        const given = banded.filter((s) => s.record.bands![level])
        const inside = given.filter((s) => s.actual >= s.record.bands![level]![0] && s.actual <= s.record.bands![level]![1]).length
        return [level, given.length ? inside / given.length : null]
      }))
      return [name, {model: errorStats(inWindow.map((s) => s.error)), persistence: errorStats(inWindow.map((s) => s.persistenceError)), coverage, with_bands: banded.length}]
    }))}
  }
  return out
}

/** The calibration a version was registered with: its levels and each horizon's half-widths. */
export interface VersionCalibration {
  version: string
  levels: number[]
  halfWidth: Record<string, Record<string, number>>
}

/**
 * The version's live bands: per horizon and level, ACI replayed over its scored forecasts of that
 * horizon in target-time order, starting from its calibrated half-width.
 */
export function liveIntervals(scored: ScoredPrediction[], calibration: VersionCalibration, aci: AciSettings = DEFAULT_ACI): LiveIntervals {
  const own = scored.filter((s) => s.record.model.version === calibration.version).sort((a, b) => a.targetMs - b.targetMs)
  const byHorizon: Record<string, Record<string, LiveBand>> = {}
  for (const [h, widths] of Object.entries(calibration.halfWidth)) {
    const residuals = own.filter((s) => leadHours(s.record) === Number(h)).map((s) => Math.abs(s.error))
    byHorizon[h] = Object.fromEntries(calibration.levels.map((level) => [levelKey(level), adaptiveBand(residuals, level, widths[levelKey(level)]!, aci)]))
  }
  return {version: calibration.version, gamma: aci.gamma, window: aci.window, by_horizon: byHorizon}
}

/**
 * The records that are scored: only the pipeline's own forecasts (`rps forecast`, source
 * "forecast"). A client's observations request logged by rps serve says what the client sent, not
 * what was observed, so it never counts: not even as the first record of its hour.
 */
export function forecastRecords(records: PredictionRecord[]): PredictionRecord[] {
  return records.filter((r) => r.source === 'forecast')
}

/** The whole live-errors document from the log's records and the observed target series. */
export function liveErrors(input: {
  records: PredictionRecord[]
  malformed: number
  observed: (ms: number) => number | null | undefined
  dataEnd: number | undefined
  target: string
  now: Date
  /** The longest horizon: `windows` and `by_version` score it alone (every record when absent). */
  horizonHours?: number
  /** The served version's calibration: its live bands are replayed when given. */
  calibration?: VersionCalibration
  aci?: AciSettings
}): LiveErrors {
  const forecasts = forecastRecords(input.records)
  const unique = dedupePredictions(forecasts)
  const {scored, pending, unobserved} = scorePredictions(unique, input.observed, input.dataEnd)
  const main = input.horizonHours === undefined ? scored : scored.filter((s) => leadHours(s.record) === input.horizonHours)
  const {windows, byVersion} = summarizeErrors(main)
  return {
    updated_at: input.now.toISOString(),
    data_end: input.dataEnd === undefined ? null : new Date(input.dataEnd).toISOString(),
    target: input.target,
    ...(input.horizonHours === undefined ? {} : {horizon_hours: input.horizonHours}),
    windows,
    by_version: byVersion,
    by_horizon: summarizeHorizons(scored),
    intervals: input.calibration ? liveIntervals(scored, input.calibration, input.aci) : null,
    predictions: {logged: input.records.length, client: input.records.length - forecasts.length, unique: unique.length, scored: scored.length, pending, unobserved, malformed: input.malformed},
  }
}
