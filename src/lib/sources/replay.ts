import {buildOpenMeteoBody, openMeteoStamp} from './open-meteo-body.js'
import {HOUR_MS, REPLAY_STATION, floorHour, loadReplaySeries, replayFilePath, replayRowIndex} from './replay-series.js'
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
    for (let ms = newest - (hours - 1) * HOUR_MS; ms <= newest; ms += HOUR_MS) {
      time.push(openMeteoStamp(ms))
      const row = replayRowIndex(ms)
      for (const v of variables) columns[v]!.push(series.values[v]![row] ?? null)
    }
    const body = buildOpenMeteoBody(request.location, REPLAY_STATION.elevation, time, columns, Date.now() - started)
    const missing = request.variables.filter((v) => !series.columns.includes(v))
    return [{
      body,
      meta: {
        source: 'replay', kind: 'replay', location: request.location,
        collectedAt: at.toISOString(), fetchedAt: request.now.toISOString(), observedUntil: at.toISOString(), live: true,
        request: {url: `file://${path}`, params: {at: at.toISOString(), hours}},
        httpStatus: null, attempts: 1, elapsedMs: Date.now() - started, bodyBytes: Buffer.byteLength(body),
        extra: {
          station: REPLAY_STATION.name,
          variablesNotInDataset: missing,
        },
      },
    }]
  },
}
