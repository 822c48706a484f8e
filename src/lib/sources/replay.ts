import {basename} from 'node:path'

import {ConfigError} from '../errors.js'
import {buildOpenMeteoBody, openMeteoStamp} from './open-meteo-body.js'
import {HOUR_MS, REPLAY_STATION, floorHour, loadReplaySeries, replayFilePath, replayRowIndex, replayStationOf} from './replay-series.js'
import type {FetchRequest, RawCapture, Source} from './types.js'

/**
 * The offline default: serves the shipped recorded year as if it were Open-Meteo, up to the
 * replay clock `at` (default: now). Hours after `at` are never served.
 */
export const replaySource: Source = {
  name: 'replay',
  async fetch(request: FetchRequest): Promise<RawCapture[]> {
    const started = Date.now()
    const path = replayFilePath(request.env)
    const series = loadReplaySeries(path)
    const at = request.at ?? request.now
    const newest = floorHour(at.getTime())
    const hours = Math.max(request.pastHours, request.backfillDays * 24)
    const variables = request.variables.filter((v) => series.columns.includes(v))
    const time: string[] = []
    const columns: Record<string, (number | null)[]> = Object.fromEntries(variables.map((v) => [v, []]))
    const shifts = parseReplayShifts(request.env.RPS_REPLAY_SHIFT)
    for (let ms = newest - (hours - 1) * HOUR_MS; ms <= newest; ms += HOUR_MS) {
      time.push(openMeteoStamp(ms))
      const row = replayRowIndex(ms)
      for (const v of variables) {
        const value = series.values[v]![row] ?? null
        const active = shifts.filter((s) => s.variable === v && ms >= s.fromMs)
        const changed = value === null ? null : active.reduce((x, s) => (s.op === '*' ? x * s.amount : x + s.amount), value)
        columns[v]!.push(changed === null ? null : Math.round(changed * 10) / 10)
      }
    }
    const station = replayStationOf(path)
    const body = buildOpenMeteoBody(request.location, station?.elevation ?? REPLAY_STATION.elevation, time, columns, Date.now() - started)
    const missing = request.variables.filter((v) => !series.columns.includes(v))
    return [{
      body,
      meta: {
        source: 'replay', kind: 'replay', location: request.location,
        collectedAt: at.toISOString(), fetchedAt: request.now.toISOString(), observedUntil: at.toISOString(), live: true,
        request: {url: `file://${path}`, params: {at: at.toISOString(), hours}},
        httpStatus: null, attempts: 1, elapsedMs: Date.now() - started, bodyBytes: Buffer.byteLength(body),
        extra: {
          station: station?.name ?? basename(path),
          variablesNotInDataset: missing,
          ...(shifts.length ? {injectedShifts: request.env.RPS_REPLAY_SHIFT} : {}),
        },
      },
    }]
  },
}

/**
 * Synthetic drift for experiments: RPS_REPLAY_SHIFT="temperature_2m:+4@2026-06-01T00:00:00Z" adds
 * an offset from that instant on (a sensor offset); "temperature_2m:*1.8@..." scales the values (a
 * changed diurnal amplitude). Several changes are separated by commas.
 */
export function parseReplayShifts(spec: string | undefined): {variable: string; op: '+' | '*'; amount: number; fromMs: number}[] {
  if (!spec) return []
  return spec.split(',').map((part) => {
    const m = /^([a-z0-9_]+):([*+-])(\d+(?:\.\d+)?)@(.+)$/.exec(part.trim())
    const fromMs = m ? Date.parse(m[4]!) : Number.NaN
    if (!m || Number.isNaN(fromMs)) throw new ConfigError(`RPS_REPLAY_SHIFT part '${part}' is not <variable>:<+|-|*><number>@<ISO time>`)
    const op = m[2] === '*' ? '*' : '+'
    return {variable: m[1]!, op, amount: m[2] === '-' ? -Number(m[3]) : Number(m[3]), fromMs}
  })
}
