import pl from 'nodejs-polars'

import {LABEL_COLUMN, SEASONAL_COLUMN, TARGET_VALUE_COLUMN, TIME_COLUMN, horizonColumns} from '../features/build-features.js'

/** Rows of the feature table as plain arrays, oldest first. */
export interface ModelRows {
  time: number[]
  X: number[][]
  /** The training label (delta or level, per target mode). */
  y: number[]
  /** target(t): the persistence forecast, and the base a delta is added to. */
  current: number[]
  /** target(t+h): what is scored. */
  actual: number[]
  /** target(t+h-24): the seasonal-naive forecast. */
  seasonal: number[]
  /** The label, target and seasonal values of each shorter horizon (y/actual/seasonal above are the longest's). */
  shorter?: Map<number, HorizonValues>
}

export interface HorizonValues {
  y: number[]
  actual: number[]
  seasonal: number[]
}

/** The rows as seen by horizon h: its label, target and seasonal forecast in y, actual and seasonal. */
export function forHorizon(rows: ModelRows, h: number): ModelRows {
  const values = rows.shorter?.get(h)
  return values ? {time: rows.time, X: rows.X, current: rows.current, ...values} : rows
}

/** `horizons`: every horizon of the dataset (its longest is `longest`); the shorter ones' columns are read too. */
export function toModelRows(df: pl.DataFrame, features: string[], target: string, horizons: number[] = [], longest?: number): ModelRows {
  const missing = features.filter((f) => !df.columns.includes(f))
  if (missing.length) throw new Error(`dataset lacks feature column(s): ${missing.join(', ')}`)
  const cols = features.map((f) => df.getColumn(f).toArray() as number[])
  const n = df.height
  const X: number[][] = new Array(n)
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(cols.length)
    for (let j = 0; j < cols.length; j++) row[j] = cols[j]![i]!
    X[i] = row
  }
  return {
    time: df.getColumn(TIME_COLUMN).toArray() as number[],
    X,
    y: df.getColumn(LABEL_COLUMN).toArray() as number[],
    current: df.getColumn(target).toArray() as number[],
    actual: df.getColumn(TARGET_VALUE_COLUMN).toArray() as number[],
    seasonal: df.getColumn(SEASONAL_COLUMN).toArray() as number[],
    ...(shorterHorizons(df, horizons, longest)),
  }
}

function shorterHorizons(df: pl.DataFrame, horizons: number[], longest: number | undefined): {shorter?: Map<number, HorizonValues>} {
  const shorter = horizons.filter((h) => h !== longest)
  if (!shorter.length || longest === undefined) return {}
  const column = (name: string) => {
    if (!df.columns.includes(name)) throw new Error(`dataset lacks column ${name}: run rps featurize with these horizons`)
    return df.getColumn(name).toArray() as number[]
  }
  return {shorter: new Map(shorter.map((h) => {
    const names = horizonColumns({horizonHours: longest}, h)
    return [h, {y: column(names.label), actual: column(names.target), seasonal: column(names.seasonal)}]
  }))}
}

function pickShorter(rows: ModelRows, pick: <T>(values: T[]) => T[]): {shorter?: Map<number, HorizonValues>} {
  if (!rows.shorter) return {}
  return {shorter: new Map([...rows.shorter].map(([h, v]) => [h, {y: pick(v.y), actual: pick(v.actual), seasonal: pick(v.seasonal)}]))}
}

/** The rows whose time satisfies `keep`, in order. */
export function selectRows(rows: ModelRows, keep: (time: number) => boolean): ModelRows {
  const idx = rows.time.map((t, i) => (keep(t) ? i : -1)).filter((i) => i >= 0)
  const pick = <T>(values: T[]) => idx.map((i) => values[i]!)
  return {
    time: pick(rows.time), X: pick(rows.X), y: pick(rows.y), current: pick(rows.current), actual: pick(rows.actual), seasonal: pick(rows.seasonal),
    ...pickShorter(rows, pick),
  }
}

export interface TimeSplit {
  train: ModelRows
  validation: ModelRows
  holdout: ModelRows
  boundaries: {validationStart: string; holdoutStart: string; end: string}
}

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

/**
 * Time-ordered split: holdout = the last `holdoutDays`, validation = the days before (none when
 * 0), train = the rest, or only its newest `trainWindowDays` when that is > 0 (a sliding window).
 * Rows whose label reaches past a boundary (t + horizon >= next start) are purged, so no training
 * label overlaps the validation or holdout period.
 */
export function timeSplit(rows: ModelRows, holdoutDays: number, validationDays: number, horizonHours: number, trainWindowDays = 0): TimeSplit {
  const end = rows.time.at(-1)! + HOUR_MS
  const holdoutStart = end - holdoutDays * DAY_MS
  const validationStart = holdoutStart - validationDays * DAY_MS
  const trainStart = trainWindowDays > 0 ? validationStart - trainWindowDays * DAY_MS : -Infinity
  const purge = horizonHours * HOUR_MS
  return {
    train: selectRows(rows, (t) => t >= trainStart && t + purge < validationStart),
    validation: selectRows(rows, (t) => t >= validationStart && t + purge < holdoutStart),
    holdout: selectRows(rows, (t) => t >= holdoutStart),
    boundaries: {validationStart: new Date(validationStart).toISOString(), holdoutStart: new Date(holdoutStart).toISOString(), end: new Date(end).toISOString()},
  }
}

/** Rows `from` (inclusive) to `to` (exclusive) by position. */
export function sliceRows(rows: ModelRows, from: number, to: number): ModelRows {
  const pick = <T>(values: T[]) => values.slice(from, to)
  return {
    time: pick(rows.time), X: pick(rows.X), y: pick(rows.y), current: pick(rows.current), actual: pick(rows.actual), seasonal: pick(rows.seasonal),
    ...pickShorter(rows, pick),
  }
}
