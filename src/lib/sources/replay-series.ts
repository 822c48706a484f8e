import {readFileSync} from 'node:fs'
import {basename, join} from 'node:path'

import {ConfigError} from '../errors.js'
import {projectRoot} from '../util/project.js'

export const HOUR_MS = 3_600_000
const HOURS_PER_YEAR = 8760

/** A recorded station year the repo ships (data/replay/README.md: origin, licence, conversion). */
export interface ReplayStation {
  /** The location name it stands for (params.yaml location.name). */
  id: string
  file: string
  name: string
  latitude: number
  longitude: number
  elevation: number
  /** The station's standard time the source file was stamped in; the replay file itself is UTC. */
  utcOffsetHours: number
}

/** Every shipped station year; the first is the offline default. */
export const REPLAY_STATIONS: readonly ReplayStation[] = [
  {id: 'greensboro-nc', file: 'data/replay/greensboro-nc.csv', name: 'Greensboro Piedmont Triad Intl (NREL TMY3 723170)', latitude: 36.1, longitude: -79.95, elevation: 273, utcOffsetHours: -5},
  {id: 'sand-point-ak', file: 'data/replay/sand-point-ak.csv', name: 'Sand Point (NREL TMY3 703165)', latitude: 55.317, longitude: -160.517, elevation: 7, utcOffsetHours: -9},
  {id: 'miami-fl', file: 'data/replay/miami-fl.csv', name: 'Miami Intl (NREL TMY2 12839)', latitude: 25.8, longitude: -80.267, elevation: 2, utcOffsetHours: -5},
]

/** The offline default. */
export const REPLAY_STATION = REPLAY_STATIONS[0]!

/** The shipped station a replay file is (by file name), if it is one. */
export function replayStationOf(path: string): ReplayStation | undefined {
  return REPLAY_STATIONS.find((s) => basename(s.file) === basename(path))
}

export interface ReplaySeries {
  columns: string[]
  /** values[column][hourOfYear] */
  values: Record<string, (number | null)[]>
}

let cache: {path: string; series: ReplaySeries} | undefined

export function replayFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.RPS_REPLAY_FILE ?? join(projectRoot(), REPLAY_STATION.file)
}

/** Loads the 8,760-row recorded year (first column `time`, then one column per variable). */
export function loadReplaySeries(path = replayFilePath()): ReplaySeries {
  if (cache?.path === path) return cache.series
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    throw new ConfigError(`replay dataset not found at ${path}`, ['set RPS_REPLAY_FILE or restore data/replay/ from git'])
  }
  const lines = text.trim().split(/\r?\n/)
  const header = (lines.shift() ?? '').split(',')
  if (header[0] !== 'time' || lines.length !== HOURS_PER_YEAR) {
    throw new ConfigError(`replay dataset ${path} must have a time column and ${HOURS_PER_YEAR} hourly rows (has ${lines.length})`)
  }
  const columns = header.slice(1)
  const values: Record<string, (number | null)[]> = {}
  for (const c of columns) values[c] = new Array<number | null>(HOURS_PER_YEAR)
  lines.forEach((line, row) => {
    const cells = line.split(',')
    columns.forEach((c, i) => {
      const cell = cells[i + 1]
      values[c]![row] = cell === undefined || cell === '' ? null : Number(cell)
    })
  })
  const series = {columns, values}
  cache = {path, series}
  return series
}

/**
 * Maps an instant onto the recorded year: same hour of year, any calendar year. On 29 February
 * of a leap year the rows of 28 February repeat, so the mapping stays continuous by the hour.
 */
export function replayRowIndex(ms: number): number {
  const d = new Date(ms)
  const year = d.getUTCFullYear()
  let hourOfYear = Math.floor((ms - Date.UTC(year, 0, 1)) / HOUR_MS)
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  if (leap && hourOfYear >= 59 * 24) hourOfYear -= 24
  return hourOfYear
}

/** Truncates to the whole hour. */
export function floorHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS
}
