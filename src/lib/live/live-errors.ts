import {join} from 'node:path'

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

/** reports/live/live-errors.json: what rps serve exposes as rps_live_error_* gauges. */
export interface LiveErrors {
  updated_at: string
  /** The newest hour of the observation history (ISO), the data clock. */
  data_end: string | null
  target: string
  windows: Record<string, WindowErrors>
  by_version: Record<string, VersionErrors>
  /** `client`: lines rps serve logged for its clients' observations requests, never scored. */
  predictions: {logged: number; client: number; unique: number; scored: number; pending: number; unobserved: number; malformed: number}
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
}): LiveErrors {
  const forecasts = forecastRecords(input.records)
  const unique = dedupePredictions(forecasts)
  const {scored, pending, unobserved} = scorePredictions(unique, input.observed, input.dataEnd)
  const {windows, byVersion} = summarizeErrors(scored)
  return {
    updated_at: input.now.toISOString(),
    data_end: input.dataEnd === undefined ? null : new Date(input.dataEnd).toISOString(),
    target: input.target,
    windows,
    by_version: byVersion,
    predictions: {logged: input.records.length, client: input.records.length - forecasts.length, unique: unique.length, scored: scored.length, pending, unobserved, malformed: input.malformed},
  }
}
