import type {QualityThresholds} from '../config/params.js'
import {type Observations, type RawFormat, schemaFileFor, toObservations} from '../raw/observations.js'
import {HOUR_MS} from '../sources/replay-series.js'
import type {RawMeta} from '../sources/types.js'
import {describeSchemaErrors, schemaValidator} from '../util/json-schema.js'

export type CheckStatus = 'pass' | 'fail' | 'skip'

export interface CheckResult {
  name: string
  status: CheckStatus
  value: number | string | null
  threshold: number | string | null
  detail?: string
}

export interface QualityVerdict {
  passed: boolean
  rows: number
  span: {first: string | null; last: string | null}
  checks: CheckResult[]
  failed: string[]
}

interface GateInput {
  format: RawFormat
  body: unknown
  meta: RawMeta
  variables: string[]
  target: string
  thresholds: QualityThresholds
}

const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits

function check(name: string, ok: boolean, value: CheckResult['value'], threshold: CheckResult['threshold'], detail?: string): CheckResult {
  return {name, status: ok ? 'pass' : 'fail', value, threshold, ...(detail ? {detail} : {})}
}

function skipped(name: string, detail: string): CheckResult {
  return {name, status: 'skip', value: null, threshold: null, detail}
}

/** Structural checks: JSON Schema per source, then (Open-Meteo format) parallel arrays of equal length. */
export function structureChecks(format: RawFormat, body: unknown): CheckResult[] {
  const validate = schemaValidator(schemaFileFor(format))
  const valid = validate(body)
  const errors = describeSchemaErrors(validate.errors)
  const results = [check('schema', Boolean(valid), errors.length, 0, errors.slice(0, 10).join('; ') || undefined)]
  if (format === 'open-meteo') {
    const hourly = (body as {hourly?: unknown}).hourly
    if (hourly && typeof hourly === 'object') {
      const entries = Object.entries(hourly as Record<string, unknown>).filter(([, v]) => Array.isArray(v)) as [string, unknown[]][]
      const expected = (hourly as {time?: unknown[]}).time?.length ?? 0
      const unequal = entries.filter(([, v]) => v.length !== expected).map(([k, v]) => `${k}=${v.length}`)
      results.push(check('arrays_equal_length', unequal.length === 0, unequal.length, 0,
        unequal.length ? `time has ${expected} entries; ${unequal.join(', ')}` : undefined))
    } else {
      results.push(skipped('arrays_equal_length', 'no hourly object'))
    }
  }
  return results
}

export function timestampChecks(obs: Observations, thresholds: QualityThresholds, single: boolean): CheckResult[] {
  const unparsed = obs.time.filter((t) => t === null).length
  const bad = obs.rawTime.filter((_, i) => obs.time[i] === null).slice(0, 3)
  const results = [check('timestamps_parse', unparsed === 0, unparsed, 0, bad.length ? `unparseable: ${bad.join(', ')}` : undefined)]
  const times = obs.time.filter((t): t is number => t !== null)
  let duplicates = 0
  let decreasing = 0
  let offGrid = 0
  let missingHours = 0
  for (let i = 1; i < times.length; i++) {
    const step = times[i]! - times[i - 1]!
    if (step === 0) duplicates++
    else if (step < 0) decreasing++
    else if (step % HOUR_MS !== 0) offGrid++
    else missingHours += step / HOUR_MS - 1
  }
  results.push(check('timestamps_no_duplicates', duplicates === 0, duplicates, 0))
  results.push(check('timestamps_increasing', decreasing === 0, decreasing, 0))
  if (single) {
    results.push(skipped('hourly_cadence', 'one observation per call'))
    results.push(skipped('gap_ratio', 'one observation per call'))
  } else {
    results.push(check('hourly_cadence', offGrid === 0, offGrid, 0, offGrid ? `${offGrid} step(s) not a whole number of hours` : undefined))
    const expected = times.length + missingHours
    const gapRatio = expected > 0 ? round(missingHours / expected) : 0
    results.push(check('gap_ratio', gapRatio <= thresholds.max_gap_ratio, gapRatio, thresholds.max_gap_ratio, `${missingHours} missing hour(s)`))
  }
  return results
}

export function valueChecks(obs: Observations, thresholds: QualityThresholds, target: string): CheckResult[] {
  const results: CheckResult[] = [check('target_present', obs.keyColumns.includes(target), target, null)]
  const rows = obs.time.length
  for (const column of obs.keyColumns) {
    const values = obs.columns[column] ?? []
    const nulls = values.filter((v) => v === null).length
    const ratio = rows ? round(nulls / rows) : 0
    results.push(check(`null_ratio:${column}`, ratio <= thresholds.max_null_ratio, ratio, thresholds.max_null_ratio, `${nulls} of ${rows} missing`))
  }
  for (const column of obs.keyColumns) {
    const range = thresholds.ranges[column]
    if (!range) continue
    const [lo, hi] = range
    const values = (obs.columns[column] ?? []).filter((v): v is number => v !== null)
    const outside = values.filter((v) => v < lo || v > hi)
    const ratio = values.length ? round(outside.length / values.length) : 0
    results.push(check(`range:${column}`, ratio <= thresholds.max_out_of_range_ratio, ratio, thresholds.max_out_of_range_ratio,
      outside.length ? `${outside.length} value(s) outside [${lo}, ${hi}], e.g. ${outside.slice(0, 3).join(', ')}` : undefined))
  }
  return results
}

export function freshnessCheck(obs: Observations, meta: RawMeta, target: string, thresholds: QualityThresholds): CheckResult {
  if (!meta.live) return skipped('freshness', `${meta.kind} data is historical`)
  const values = obs.columns[target] ?? []
  let newest: number | null = null
  obs.time.forEach((t, i) => {
    if (t !== null && values[i] !== null && values[i] !== undefined && (newest === null || t > newest)) newest = t
  })
  if (newest === null) return check('freshness', false, null, thresholds.max_staleness_hours, 'no observation of the target')
  const ageHours = round((Date.parse(meta.observedUntil) - newest) / HOUR_MS, 2)
  return check('freshness', ageHours <= thresholds.max_staleness_hours, ageHours, thresholds.max_staleness_hours,
    `newest observation ${new Date(newest).toISOString()}, collected ${meta.observedUntil}`)
}

/** Runs every check on one raw body. Pure: the caller reads files and writes the report. */
export function runQualityGate(input: GateInput): QualityVerdict {
  const checks = structureChecks(input.format, input.body)
  let obs: Observations | undefined
  if (checks.every((c) => c.status !== 'fail')) {
    obs = toObservations(input.format, input.body, input.variables, Date.parse(input.meta.observedUntil))
    const single = input.format === 'openweathermap'
    const minRows = single ? (input.thresholds.min_rows_single_observation ?? 1) : input.thresholds.min_rows
    checks.push(check('min_rows', obs.time.length >= minRows, obs.time.length, minRows))
    checks.push(...timestampChecks(obs, input.thresholds, single))
    checks.push(...valueChecks(obs, input.thresholds, input.target))
    checks.push(freshnessCheck(obs, input.meta, input.target, input.thresholds))
  } else {
    checks.push(skipped('content', 'structure checks failed; content not examined'))
  }
  const times = (obs?.time ?? []).filter((t): t is number => t !== null)
  const failed = checks.filter((c) => c.status === 'fail').map((c) => c.name)
  return {
    passed: failed.length === 0,
    rows: obs?.time.length ?? 0,
    span: {
      first: times.length ? new Date(times.reduce((a, b) => Math.min(a, b))).toISOString() : null,
      last: times.length ? new Date(times.reduce((a, b) => Math.max(a, b))).toISOString() : null,
    },
    checks,
    failed,
  }
}
