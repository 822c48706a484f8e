import {type HttpCapture, getJsonWithRetry} from './http.js'
import type {FetchRequest, RawCapture, Source} from './types.js'

export const OPEN_METEO_FORECAST_URL = 'https://api.open-meteo.com/v1/forecast'
export const OPEN_METEO_ARCHIVE_URL = 'https://archive-api.open-meteo.com/v1/archive'
/** The forecast endpoint serves at most 92 past days. */
const MAX_PAST_DAYS = 92
/** ERA5-based archive data lags real time by about five days; stop the backfill before that. */
const ARCHIVE_LAG_DAYS = 6

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10)
}

function baseUrl(env: NodeJS.ProcessEnv, name: string, fallback: string, path: string): string {
  const configured = env[name]
  if (!configured) return fallback
  return configured.replace(/\/+$/, '') + (configured.includes('/v1/') ? '' : path)
}

function capture(request: FetchRequest, kind: 'archive' | 'forecast', url: string, params: Record<string, string | number>, http: HttpCapture): RawCapture {
  const at = request.now.toISOString()
  return {
    body: http.body,
    meta: {
      source: 'open-meteo', kind, location: request.location, collectedAt: at, fetchedAt: at, observedUntil: at, live: kind === 'forecast',
      request: {url, params}, httpStatus: http.status, contentType: http.contentType, attempts: http.attempts,
      elapsedMs: http.elapsedMs, bodyBytes: Buffer.byteLength(http.body),
    },
  }
}

/** Open-Meteo: recent hours from the forecast endpoint (`past_days`), history from the archive. */
export const openMeteoSource: Source = {
  name: 'open-meteo',
  async fetch(request: FetchRequest): Promise<RawCapture[]> {
    const captures: RawCapture[] = []
    const common = {
      latitude: request.location.latitude,
      longitude: request.location.longitude,
      hourly: request.variables.join(','),
      timezone: 'GMT',
    }
    const paramKeys = {
      hourly: 'variables', latitude: 'location.latitude (--latitude)', longitude: 'location.longitude (--longitude)',
      past_days: 'fetch.past_hours (--past-hours)', start_date: '--backfill-days', end_date: '--backfill-days',
    }
    const retry = {timeoutMs: request.params.fetch.timeout_ms, retry: request.params.fetch.retry, onRetry: request.onRetry, paramKeys}
    let pastDays = Math.min(MAX_PAST_DAYS, Math.ceil(request.pastHours / 24))
    if (request.backfillDays > 0) {
      pastDays = Math.max(pastDays, ARCHIVE_LAG_DAYS + 1)
      const day = 86_400_000
      const start = new Date(request.now.getTime() - request.backfillDays * day)
      const end = new Date(request.now.getTime() - ARCHIVE_LAG_DAYS * day)
      if (start < end) {
        const url = baseUrl(request.env, 'RPS_OPEN_METEO_ARCHIVE_URL', OPEN_METEO_ARCHIVE_URL, '/v1/archive')
        const params = {...common, start_date: isoDate(start), end_date: isoDate(end)}
        captures.push(capture(request, 'archive', url, params, await getJsonWithRetry({url, params, ...retry})))
      }
    }
    const url = baseUrl(request.env, 'RPS_OPEN_METEO_URL', OPEN_METEO_FORECAST_URL, '/v1/forecast')
    const params = {...common, past_days: pastDays, forecast_days: 1}
    captures.push(capture(request, 'forecast', url, params, await getJsonWithRetry({url, params, ...retry})))
    return captures
  },
}
