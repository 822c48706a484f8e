import type {Observations} from '../raw/observations.js'
import {HOUR_MS, floorHour} from '../sources/replay-series.js'

/** Observations on a UTC hourly grid: one row per hour, oldest first. */
export interface HourlyTable {
  time: number[]
  /** When each row's newest contributing observation was collected (ISO), null for filled rows. */
  collectedAt: (string | null)[]
  columns: Record<string, (number | null)[]>
}

export interface ObservationBatch {
  collectedAt: string
  obs: Observations
}

export interface GapReport {
  /** Hours filled by interpolation, per variable. */
  filled: Record<string, number>
  /** Runs of missing hours longer than the fill limit (left empty), per variable. */
  longGaps: {variable: string; from: string; to: string; hours: number}[]
}

interface Row {
  collectedAt: string
  values: Record<string, number | null>
}

/**
 * Merges new observations into the history. Rows are keyed by the UTC hour; for each variable
 * the most recently collected non-null value wins, so a newer fetch corrects an older one but
 * a gap in a newer fetch never erases a value we already had.
 */
export function mergeObservations(history: HourlyTable | undefined, batches: ObservationBatch[], variables: string[]): Map<number, Row> {
  const rows = new Map<number, Row>()
  const put = (hour: number, collectedAt: string, values: Record<string, number | null>) => {
    const current = rows.get(hour)
    if (!current) {
      rows.set(hour, {collectedAt, values: {...values}})
      return
    }
    const newer = collectedAt >= current.collectedAt
    for (const v of variables) {
      const incoming = values[v] ?? null
      const existing = current.values[v] ?? null
      if (incoming !== null && (newer || existing === null)) current.values[v] = incoming
    }
    if (newer) current.collectedAt = collectedAt
  }
  if (history) {
    history.time.forEach((t, i) => {
      const values = Object.fromEntries(variables.map((v) => [v, history.columns[v]?.[i] ?? null]))
      put(t, history.collectedAt[i] ?? '', values)
    })
  }
  const ordered = [...batches].sort((a, b) => a.collectedAt.localeCompare(b.collectedAt))
  for (const batch of ordered) {
    batch.obs.time.forEach((t, i) => {
      if (t === null) return
      const values = Object.fromEntries(variables.map((v) => [v, batch.obs.columns[v]?.[i] ?? null]))
      put(floorHour(t), batch.collectedAt, values)
    })
  }
  return rows
}

/**
 * Puts merged rows on a complete hourly grid from the first to the last hour (optionally only
 * the newest `windowHours`), then fills runs of at most `maxFillHours` missing hours by linear
 * interpolation between the neighbours. Longer runs stay empty and are reported.
 */
export function regularize(rows: Map<number, Row>, variables: string[], maxFillHours: number, windowHours?: number): {table: HourlyTable; gaps: GapReport} {
  const hours = [...rows.keys()].sort((a, b) => a - b)
  const gaps: GapReport = {filled: Object.fromEntries(variables.map((v) => [v, 0])), longGaps: []}
  if (hours.length === 0) return {table: {time: [], collectedAt: [], columns: Object.fromEntries(variables.map((v) => [v, []]))}, gaps}
  const last = hours.at(-1)!
  let first = hours[0]!
  if (windowHours !== undefined) first = Math.max(first, last - (windowHours - 1) * HOUR_MS)
  const time: number[] = []
  const collectedAt: (string | null)[] = []
  const columns: Record<string, (number | null)[]> = Object.fromEntries(variables.map((v) => [v, []]))
  for (let t = first; t <= last; t += HOUR_MS) {
    const row = rows.get(t)
    time.push(t)
    collectedAt.push(row?.collectedAt ?? null)
    for (const v of variables) columns[v]!.push(row?.values[v] ?? null)
  }
  for (const v of variables) {
    const result = fillShortGaps(columns[v]!, maxFillHours)
    gaps.filled[v] = result.filled
    for (const run of result.longRuns) {
      gaps.longGaps.push({variable: v, from: new Date(time[run.start]!).toISOString(), to: new Date(time[run.end]!).toISOString(), hours: run.end - run.start + 1})
    }
  }
  return {table: {time, collectedAt, columns}, gaps}
}

/** Linear interpolation across interior runs of nulls no longer than `maxRun`; in place. */
export function fillShortGaps(values: (number | null)[], maxRun: number): {filled: number; longRuns: {start: number; end: number}[]} {
  let filled = 0
  const longRuns: {start: number; end: number}[] = []
  let i = 0
  while (i < values.length) {
    if (values[i] !== null) {
      i++
      continue
    }
    const start = i
    while (i < values.length && values[i] === null) i++
    const end = i - 1
    const before = values[start - 1]
    const after = values[i]
    const length = end - start + 1
    if (length <= maxRun && before !== undefined && before !== null && after !== undefined && after !== null) {
      for (let k = 0; k < length; k++) values[start + k] = before + ((after - before) * (k + 1)) / (length + 1)
      filled += length
    } else {
      longRuns.push({start, end})
    }
  }
  return {filled, longRuns}
}
