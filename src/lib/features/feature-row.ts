import type {FeatureConfig} from './config.js'

/**
 * The one definition of every model feature, on plain typed arrays: `rps featurize` (through
 * buildFeatures, which turns the columns into a polars frame) and `rps serve` (the newest hour of
 * an observations instance) both call `featureRow`, so training rows and served vectors are the
 * same floats. No polars here: the server answers without loading it. A missing value is NaN.
 */

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

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

const enum Op {
  Value,
  Lag,
  Mean,
  Std,
  Diff,
  HourSin,
  HourCos,
  DoySin,
  DoyCos,
}

/** featureNames(cfg) compiled once: one (operation, variable index, hours) triple per feature. */
export interface FeaturePlan {
  names: string[]
  variables: string[]
  ops: Int32Array
  vars: Int32Array
  hours: Int32Array
  /** Rows before t a feature at t reads (the longest lag, window - 1 or difference). */
  lookback: number
}

export function featurePlan(cfg: FeatureConfig): FeaturePlan {
  const names = featureNames(cfg)
  const ops: number[] = []
  const vars: number[] = []
  const hours: number[] = []
  const index = (v: string) => {
    const i = cfg.variables.indexOf(v)
    if (i < 0) throw new Error(`feature variable ${v} is not one of the configured variables`)
    return i
  }
  const add = (op: Op, v: number, h: number) => {
    ops.push(op)
    vars.push(v)
    hours.push(h)
  }
  cfg.variables.forEach((_, i) => add(Op.Value, i, 0))
  for (const v of cfg.lagVariables) for (const k of cfg.lags) add(Op.Lag, index(v), k)
  for (const v of cfg.rollingVariables) {
    for (const w of cfg.rollingWindows) {
      add(Op.Mean, index(v), w)
      add(Op.Std, index(v), w)
    }
  }
  for (const [v, ks] of Object.entries(cfg.diffs)) for (const k of ks) add(Op.Diff, index(v), k)
  if (cfg.cyclic.includes('hour_of_day')) {
    add(Op.HourSin, -1, 0)
    add(Op.HourCos, -1, 0)
  }
  if (cfg.cyclic.includes('day_of_year')) {
    add(Op.DoySin, -1, 0)
    add(Op.DoyCos, -1, 0)
  }
  if (ops.length !== names.length) throw new Error('feature plan and feature names disagree')
  const lookback = Math.max(0, ...cfg.lags, ...cfg.rollingWindows.map((w) => w - 1), ...Object.values(cfg.diffs).flat())
  return {names, variables: [...cfg.variables], ops: Int32Array.from(ops), vars: Int32Array.from(vars), hours: Int32Array.from(hours), lookback}
}

export function dayOfYearFraction(ms: number): number {
  const d = new Date(ms)
  const start = Date.UTC(d.getUTCFullYear(), 0, 1)
  const end = Date.UTC(d.getUTCFullYear() + 1, 0, 1)
  return (Math.floor((ms - start) / DAY_MS) + 0.5) / ((end - start) / DAY_MS)
}

function hourAngle(ms: number): number {
  return (2 * Math.PI * (((Math.floor(ms / HOUR_MS) % 24) + 24) % 24)) / 24
}

/** Mean of x[t-w+1 .. t], summed oldest first; NaN when the window leaves the data or holds a gap. */
function windowMean(x: ArrayLike<number>, t: number, w: number): number {
  if (t - w + 1 < 0) return Number.NaN
  let sum = 0
  for (let i = t - w + 1; i <= t; i++) sum += x[i]!
  return sum / w
}

/** Sample standard deviation (ddof 1) of the same window, two passes around its mean. */
function windowStd(x: ArrayLike<number>, t: number, w: number): number {
  if (w < 2) return Number.NaN
  const mean = windowMean(x, t, w)
  if (Number.isNaN(mean)) return Number.NaN
  let ss = 0
  for (let i = t - w + 1; i <= t; i++) {
    const d = x[i]! - mean
    ss += d * d
  }
  return Math.sqrt(ss / (w - 1))
}

/**
 * Writes the features of row `t` (featureNames order) into `out` from `offset`. `columns[j]` holds
 * variable j (plan.variables order) on a regular hourly grid, oldest first; `timeMs` is row t's hour.
 * Reads rows t - plan.lookback .. t only: what happened after t never changes a feature at t.
 */
export function featureRow(plan: FeaturePlan, columns: ArrayLike<number>[], t: number, timeMs: number, out: Float64Array | number[], offset = 0): void {
  const {ops, vars, hours} = plan
  for (let f = 0; f < ops.length; f++) {
    const x = columns[vars[f]!]!
    const h = hours[f]!
    let value: number
    switch (ops[f] as Op) {
      case Op.Value:
        value = x[t]!
        break
      case Op.Lag:
        value = t - h >= 0 ? x[t - h]! : Number.NaN
        break
      case Op.Mean:
        value = windowMean(x, t, h)
        break
      case Op.Std:
        value = windowStd(x, t, h)
        break
      case Op.Diff:
        value = t - h >= 0 ? x[t]! - x[t - h]! : Number.NaN
        break
      case Op.HourSin:
        value = Math.sin(hourAngle(timeMs))
        break
      case Op.HourCos:
        value = Math.cos(hourAngle(timeMs))
        break
      case Op.DoySin:
        value = Math.sin(2 * Math.PI * dayOfYearFraction(timeMs))
        break
      case Op.DoyCos:
        value = Math.cos(2 * Math.PI * dayOfYearFraction(timeMs))
        break
    }
    out[offset + f] = value
  }
}

/** Every row's features as one Float64Array per feature (NaN where unknown): the training side of featureRow. */
export function featureColumns(plan: FeaturePlan, columns: ArrayLike<number>[], time: ArrayLike<number>): Float64Array[] {
  const n = time.length
  const width = plan.ops.length
  const out = Array.from({length: width}, () => new Float64Array(n))
  const row = new Float64Array(width)
  for (let t = 0; t < n; t++) {
    featureRow(plan, columns, t, time[t]!, row)
    for (let f = 0; f < width; f++) out[f]![t] = row[f]!
  }
  return out
}
