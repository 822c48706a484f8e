import {ConfigError} from '../errors.js'
import {getJsonWithRetry} from './http.js'
import type {FetchRequest, RawCapture, Source} from './types.js'

export const OPENWEATHERMAP_URL = 'https://api.openweathermap.org/data/2.5/weather'

/**
 * OpenWeatherMap current weather (free tier): one observation per call, so the history grows
 * one row per scheduled fetch. The API key is sent but never stored in the metadata.
 */
export const openWeatherMapSource: Source = {
  name: 'openweathermap',
  async fetch(request: FetchRequest): Promise<RawCapture[]> {
    const key = request.env.OPENWEATHERMAP_API_KEY
    if (!key) {
      throw new ConfigError('the openweathermap source needs OPENWEATHERMAP_API_KEY', [
        'set OPENWEATHERMAP_API_KEY in .env (free key at openweathermap.org), or use --source open-meteo (no key)',
      ])
    }
    const configured = request.env.RPS_OPENWEATHERMAP_URL
    const url = configured ? configured.replace(/\/+$/, '') + (configured.includes('/data/') ? '' : '/data/2.5/weather') : OPENWEATHERMAP_URL
    const params = {lat: request.location.latitude, lon: request.location.longitude, units: 'metric'}
    const http = await getJsonWithRetry({
      url, params: {...params, appid: key},
      timeoutMs: request.params.fetch.timeout_ms, retry: request.params.fetch.retry, onRetry: request.onRetry,
      paramKeys: {lat: 'location.latitude (--latitude)', lon: 'location.longitude (--longitude)'},
    })
    return [{
      body: http.body,
      meta: {
        source: 'openweathermap', kind: 'current', location: request.location,
        collectedAt: request.now.toISOString(), fetchedAt: request.now.toISOString(), observedUntil: request.now.toISOString(), live: true,
        request: {url, params: {...params, appid: '***'}}, httpStatus: http.status, contentType: http.contentType,
        attempts: http.attempts, elapsedMs: http.elapsedMs, bodyBytes: Buffer.byteLength(http.body),
      },
    }]
  },
}
