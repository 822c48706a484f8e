import pl from 'nodejs-polars'

import type {HourlyTable} from './hourly-table.js'
import {type FeatureConfig, horizonsOf} from './config.js'
import {featureColumns, featurePlan, featureRow} from './feature-row.js'

export {featureNames} from './feature-row.js'

const HOUR_MS = 3_600_000

/** Column names of the outputs that are not model inputs. */
export const TIME_COLUMN = 'time'
export const LABEL_COLUMN = 'y'
export const TARGET_TIME_COLUMN = 'target_time'
export const TARGET_VALUE_COLUMN = 'target_value'
/** The seasonal-naive forecast of target(t+h): the observation 24 h before the target time. */
export const SEASONAL_COLUMN = 'seasonal_value'

/** The label, target and seasonal columns of horizon h (the longest horizon's are the plain names above). */
export function horizonColumns(cfg: Pick<FeatureConfig, 'horizonHours'>, h: number): {label: string; target: string; seasonal: string} {
  return h === cfg.horizonHours
    ? {label: LABEL_COLUMN, target: TARGET_VALUE_COLUMN, seasonal: SEASONAL_COLUMN}
    : {label: `${LABEL_COLUMN}_h${h}`, target: `${TARGET_VALUE_COLUMN}_h${h}`, seasonal: `${SEASONAL_COLUMN}_h${h}`}
}

/**
 * The training table: the features of every row (computed by featureRow, the definition the
 * server also uses, see feature-row.ts), the label and the reference forecasts. Input: an hourly table (regular grid, oldest first). Every feature at row t is
 * computed from rows at or before t only (trailing lags, windows and differences); the label
 * `y` (and `target_value`) look `horizon` hours ahead and are null where that is unknown.
 */
export function buildFeatures(table: HourlyTable, cfg: FeatureConfig): pl.DataFrame {
  for (let i = 1; i < table.time.length; i++) {
    if (table.time[i]! - table.time[i - 1]! !== HOUR_MS) throw new Error('buildFeatures needs a regular hourly grid (see regularize())')
  }
  const plan = featurePlan(cfg)
  const columns = cfg.variables.map((v) => toFloat64(table.columns[v], table.time.length))
  const features = featureColumns(plan, columns, table.time)
  const base = pl.DataFrame({
    [TIME_COLUMN]: pl.Series(TIME_COLUMN, table.time, pl.Float64),
    [cfg.target]: pl.Series(cfg.target, table.columns[cfg.target] ?? table.time.map(() => null), pl.Float64),
  })
  const horizonTargets = (h: number) => {
    const names = horizonColumns(cfg, h)
    const future = pl.col(cfg.target).shift(-h)
    const label = cfg.targetMode === 'delta' ? future.minus(pl.col(cfg.target)) : future
    return [label.alias(names.label), future.alias(names.target), pl.col(cfg.target).shift(24 - h).alias(names.seasonal)]
  }
  const [label, target, seasonal] = horizonTargets(cfg.horizonHours)
  const targets = base.select(label!, target!, pl.col(TIME_COLUMN).plus(cfg.horizonHours * HOUR_MS).alias(TARGET_TIME_COLUMN), seasonal!)
  // Shorter horizons' labels are known wherever the longest one's is: they drop no training row.
  const shorter = horizonsOf(cfg).filter((h) => h !== cfg.horizonHours)
  return pl.DataFrame([
    base.getColumn(TIME_COLUMN),
    ...plan.names.map((name, f) => pl.Series(name, withNulls(features[f]!), pl.Float64)),
    ...targets.getColumns(),
    ...(shorter.length ? base.select(...shorter.flatMap(horizonTargets)).getColumns() : []),
  ])
}

function toFloat64(values: (number | null)[] | undefined, n: number): Float64Array {
  const out = new Float64Array(n).fill(Number.NaN)
  if (values) for (let i = 0; i < n; i++) out[i] = values[i] ?? Number.NaN
  return out
}

/** polars reads a missing value as null, never NaN (trainingRows drops rows with nulls). */
function withNulls(values: Float64Array): (number | null)[] {
  const out: (number | null)[] = new Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = Number.isNaN(values[i]!) ? null : values[i]!
  return out
}

/**
 * The features of the newest hour of `table` (featureNames order), and the names whose value is
 * missing or not finite there: what `rps forecast` predicts from (the server does the same on its request).
 */
export function newestHourFeatures(table: HourlyTable, cfg: FeatureConfig): {values: (number | null)[]; missing: string[]} {
  const plan = featurePlan(cfg)
  const n = table.time.length
  const columns = cfg.variables.map((v) => toFloat64(table.columns[v], n))
  const row = new Float64Array(plan.names.length).fill(Number.NaN)
  if (n > 0) featureRow(plan, columns, n - 1, table.time[n - 1]!, row)
  const values = Array.from(row, (v) => (Number.isFinite(v) ? v : null))
  return {values, missing: plan.names.filter((_, j) => values[j] === null)}
}

/** Rows usable for training: every feature and the label known. */
export function trainingRows(features: pl.DataFrame): pl.DataFrame {
  return features.dropNulls()
}
