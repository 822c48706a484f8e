import pl from 'nodejs-polars'

import type {HourlyTable} from './hourly-table.js'
import type {FeatureConfig} from './config.js'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

/** Column names of the outputs that are not model inputs. */
export const TIME_COLUMN = 'time'
export const LABEL_COLUMN = 'y'
export const TARGET_TIME_COLUMN = 'target_time'
export const TARGET_VALUE_COLUMN = 'target_value'
/** The seasonal-naive forecast of target(t+h): the observation 24 h before the target time. */
export const SEASONAL_COLUMN = 'seasonal_value'

/** The model's input columns, in order, for a configuration. */
export function featureNames(cfg: FeatureConfig): string[] {
  const names = [...cfg.variables]
  for (const v of cfg.lagVariables) for (const k of cfg.lags) names.push(`${v}_lag_${k}`)
  for (const v of cfg.rollingVariables) {
    for (const w of cfg.rollingWindows) names.push(`${v}_mean_${w}`, `${v}_std_${w}`)
  }
  for (const [v, ks] of Object.entries(cfg.diffs)) for (const k of ks) names.push(`${v}_diff_${k}`)
  if (cfg.cyclic.includes('hour_of_day')) names.push('hour_sin', 'hour_cos')
  if (cfg.cyclic.includes('day_of_year')) names.push('doy_sin', 'doy_cos')
  return names
}

function dayOfYearFraction(ms: number): number {
  const d = new Date(ms)
  const start = Date.UTC(d.getUTCFullYear(), 0, 1)
  const end = Date.UTC(d.getUTCFullYear() + 1, 0, 1)
  return (Math.floor((ms - start) / DAY_MS) + 0.5) / ((end - start) / DAY_MS)
}

/**
 * The one feature function, used by `rps featurize` for training and by the server for online
 * prediction. Input: an hourly table (regular grid, oldest first). Every feature at row t is
 * computed from rows at or before t only (trailing lags, windows and differences); the label
 * `y` (and `target_value`) look `horizon` hours ahead and are null where that is unknown.
 */
export function buildFeatures(table: HourlyTable, cfg: FeatureConfig): pl.DataFrame {
  for (let i = 1; i < table.time.length; i++) {
    if (table.time[i]! - table.time[i - 1]! !== HOUR_MS) throw new Error('buildFeatures needs a regular hourly grid (see regularize())')
  }
  const base = pl.DataFrame({
    [TIME_COLUMN]: pl.Series(TIME_COLUMN, table.time, pl.Float64),
    ...Object.fromEntries(cfg.variables.map((v) => [v, pl.Series(v, table.columns[v] ?? table.time.map(() => null), pl.Float64)])),
  })
  const exprs: pl.Expr[] = cfg.variables.map((v) => pl.col(v))
  for (const v of cfg.lagVariables) for (const k of cfg.lags) exprs.push(pl.col(v).shift(k).alias(`${v}_lag_${k}`))
  for (const v of cfg.rollingVariables) {
    for (const w of cfg.rollingWindows) {
      exprs.push(pl.col(v).rollingMean({windowSize: w, minPeriods: w}).alias(`${v}_mean_${w}`))
      exprs.push(pl.col(v).rollingStd({windowSize: w, minPeriods: w}).alias(`${v}_std_${w}`))
    }
  }
  for (const [v, ks] of Object.entries(cfg.diffs)) for (const k of ks) exprs.push(pl.col(v).minus(pl.col(v).shift(k)).alias(`${v}_diff_${k}`))
  const cyclic: Record<string, pl.Series> = {}
  if (cfg.cyclic.includes('hour_of_day')) {
    const angle = table.time.map((t) => (2 * Math.PI * (((Math.floor(t / HOUR_MS) % 24) + 24) % 24)) / 24)
    cyclic.hour_sin = pl.Series('hour_sin', angle.map(Math.sin), pl.Float64)
    cyclic.hour_cos = pl.Series('hour_cos', angle.map(Math.cos), pl.Float64)
  }
  if (cfg.cyclic.includes('day_of_year')) {
    const angle = table.time.map((t) => 2 * Math.PI * dayOfYearFraction(t))
    cyclic.doy_sin = pl.Series('doy_sin', angle.map(Math.sin), pl.Float64)
    cyclic.doy_cos = pl.Series('doy_cos', angle.map(Math.cos), pl.Float64)
  }
  const future = pl.col(cfg.target).shift(-cfg.horizonHours)
  const label = cfg.targetMode === 'delta' ? future.minus(pl.col(cfg.target)) : future
  let out = base.select(
    pl.col(TIME_COLUMN),
    ...exprs,
    label.alias(LABEL_COLUMN),
    future.alias(TARGET_VALUE_COLUMN),
    pl.col(TIME_COLUMN).plus(cfg.horizonHours * HOUR_MS).alias(TARGET_TIME_COLUMN),
    pl.col(cfg.target).shift(24 - cfg.horizonHours).alias(SEASONAL_COLUMN),
  )
  for (const s of Object.values(cyclic)) out = out.withColumn(s)
  return out.select(TIME_COLUMN, ...featureNames(cfg), LABEL_COLUMN, TARGET_VALUE_COLUMN, TARGET_TIME_COLUMN, SEASONAL_COLUMN)
}

/** Rows usable for training: every feature and the label known. */
/**
 * The features of the newest hour of `table` (featureNames order), and the names whose value is
 * missing or not finite there: what serving and `rps forecast` predict from.
 */
export function newestHourFeatures(table: HourlyTable, cfg: FeatureConfig): {values: (number | null)[]; missing: string[]} {
  const df = buildFeatures(table, cfg)
  const last = df.height - 1
  const names = featureNames(cfg)
  const values = names.map((f) => df.getColumn(f).get(last) as number | null)
  return {values, missing: names.filter((_, j) => typeof values[j] !== 'number' || !Number.isFinite(values[j]))}
}

export function trainingRows(features: pl.DataFrame): pl.DataFrame {
  return features.dropNulls()
}
