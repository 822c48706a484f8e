import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

/**
 * A local stand-in for Open-Meteo (forecast + archive) and OpenWeatherMap current weather that
 * answers in their documented formats, errors included. Tests queue one-off behaviours (status,
 * headers, delays, truncated or garbage bodies) and may mutate the generated document.
 */
export interface ScriptedReply {
  status?: number
  headers?: Record<string, string>
  body?: string
  /** Wait before answering. */
  delayMs?: number
  /** Send the headers and half the body, then destroy the socket. */
  truncate?: boolean
  /** Append plain text after a valid JSON body (a failure mid-stream). */
  appendGarbage?: string
}

export interface RecordedRequest {
  path: string
  query: Record<string, string>
}

type Doc = Record<string, unknown> & {hourly?: Record<string, unknown[]>}

const HOUR = 3_600_000

/** Deterministic, plausible weather for any hour. */
export function syntheticValue(variable: string, ms: number): number {
  const hour = new Date(ms).getUTCHours()
  const day = Math.floor(ms / 86_400_000)
  const diurnal = Math.sin(((hour - 9) / 24) * 2 * Math.PI)
  switch (variable) {
    case 'temperature_2m': return Math.round((12 + 6 * diurnal + 3 * Math.sin(day / 5)) * 10) / 10
    case 'relative_humidity_2m': return Math.round(65 - 20 * diurnal)
    case 'dew_point_2m': return Math.round((6 + 2 * Math.sin(day / 7)) * 10) / 10
    case 'surface_pressure': return Math.round((1005 + 8 * Math.sin(day / 3)) * 10) / 10
    case 'wind_speed_10m': return Math.round((10 + 5 * Math.abs(Math.sin(ms / 7_200_000))) * 10) / 10
    case 'wind_direction_10m': return (day * 37 + hour * 5) % 360
    case 'cloud_cover': return (day * 13 + hour * 7) % 101
    case 'shortwave_radiation': return Math.max(0, Math.round(600 * diurnal))
    default: return 0
  }
}

const UNITS: Record<string, string> = {
  temperature_2m: '°C', relative_humidity_2m: '%', dew_point_2m: '°C', surface_pressure: 'hPa',
  wind_speed_10m: 'km/h', wind_direction_10m: '°', cloud_cover: '%', shortwave_radiation: 'W/m²',
}

export class FakeWeatherApi {
  readonly requests: RecordedRequest[] = []
  private readonly queue: ScriptedReply[] = []
  private server: Server | undefined
  /** Change the generated document before it is sent (to inject data defects). */
  mutate: ((doc: Doc) => void) | undefined
  /** The server's idea of "now" (the newest hour it has observations for). */
  now: () => number = () => Date.now()
  /** Valid OpenWeatherMap key. */
  owmKey = 'test-key'

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined
    if (!address) throw new Error('fake API not started')
    return `http://127.0.0.1:${address.port}`
  }

  enqueue(...replies: ScriptedReply[]): void {
    this.queue.push(...replies)
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500
        res.end(String(error))
      })
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    return this
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  reset(): void {
    this.requests.length = 0
    this.queue.length = 0
    this.mutate = undefined
    this.now = () => Date.now()
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const query = Object.fromEntries(url.searchParams.entries())
    this.requests.push({path: url.pathname, query})
    const scripted = this.queue.shift()
    if (scripted?.delayMs) await new Promise((r) => setTimeout(r, scripted.delayMs))
    if (scripted?.status !== undefined || scripted?.body !== undefined) {
      res.writeHead(scripted.status ?? 200, {'content-type': 'application/json; charset=utf-8', ...scripted.headers})
      res.end(scripted.body ?? '')
      return
    }
    const {status, body} = this.answer(url.pathname, query)
    const text = JSON.stringify(body) + (scripted?.appendGarbage ?? '')
    if (scripted?.truncate) {
      res.writeHead(status, {'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text))})
      res.write(text.slice(0, Math.floor(text.length / 2)))
      setTimeout(() => res.destroy(), 20)
      return
    }
    res.writeHead(status, {'content-type': 'application/json; charset=utf-8', ...scripted?.headers})
    res.end(text)
  }

  private answer(path: string, q: Record<string, string>): {status: number; body: unknown} {
    if (path === '/data/2.5/weather') return this.owm(q)
    if (path !== '/v1/forecast' && path !== '/v1/archive') return {status: 404, body: {error: true, reason: 'Not Found'}}
    const lat = Number(q.latitude)
    const lon = Number(q.longitude)
    if (!(lat >= -90 && lat <= 90)) return {status: 400, body: {error: true, reason: `Latitude must be in range of -90 to 90°. Given: ${q.latitude}.`}}
    if (!(lon >= -180 && lon <= 180)) return {status: 400, body: {error: true, reason: `Longitude must be in range of -180 to 180°. Given: ${q.longitude}.`}}
    const variables = (q.hourly ?? '').split(',').filter(Boolean)
    const unknown = variables.find((v) => !(v in UNITS))
    if (unknown) return {status: 400, body: {error: true, reason: `Cannot initialize SurfacePressureAndHeightVariable<VariableAndPreviousDay, ForecastPressureVariable, ForecastHeightVariable> from invalid String value ${unknown}.`}}
    let start: number
    let end: number
    const today = Math.floor(this.now() / 86_400_000) * 86_400_000
    if (path === '/v1/archive') {
      if (!q.start_date || !q.end_date) return {status: 400, body: {error: true, reason: "Parameter 'start_date' and 'end_date' are required"}}
      start = Date.parse(`${q.start_date}T00:00Z`)
      end = Date.parse(`${q.end_date}T23:00Z`)
    } else {
      const pastDays = Number(q.past_days ?? 0)
      const forecastDays = Number(q.forecast_days ?? 7)
      if (pastDays > 92) return {status: 400, body: {error: true, reason: 'Past days is invalid. Allowed range 0 to 92.'}}
      start = today - pastDays * 86_400_000
      end = today + forecastDays * 86_400_000 - HOUR
    }
    const time: string[] = []
    const hourly: Record<string, unknown[]> = {time}
    for (const v of variables) hourly[v] = []
    for (let ms = start; ms <= end; ms += HOUR) {
      time.push(new Date(ms).toISOString().slice(0, 16))
      for (const v of variables) hourly[v]!.push(syntheticValue(v, ms))
    }
    const doc: Doc = {
      latitude: Math.round(lat * 100) / 100, longitude: Math.round(lon * 100) / 100, generationtime_ms: 0.42,
      utc_offset_seconds: 0, timezone: 'GMT', timezone_abbreviation: 'GMT', elevation: 270,
      hourly_units: {time: 'iso8601', ...Object.fromEntries(variables.map((v) => [v, UNITS[v]]))},
      hourly,
    }
    this.mutate?.(doc)
    return {status: 200, body: doc}
  }

  private owm(q: Record<string, string>): {status: number; body: unknown} {
    if (q.appid !== this.owmKey) {
      return {status: 401, body: {cod: 401, message: 'Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.'}}
    }
    const now = this.now()
    const doc: Doc = {
      coord: {lon: Number(q.lon), lat: Number(q.lat)},
      weather: [{id: 800, main: 'Clear', description: 'clear sky', icon: '01d'}],
      base: 'stations',
      main: {temp: syntheticValue('temperature_2m', now), feels_like: 10.1, temp_min: 9, temp_max: 13, pressure: 1016, humidity: 60, sea_level: 1016, grnd_level: 985},
      visibility: 10000,
      wind: {speed: 3.6, deg: 200},
      clouds: {all: 20},
      dt: Math.floor((now - 600_000) / 1000),
      sys: {country: 'US', sunrise: 1, sunset: 2},
      timezone: -18000, id: 4469146, name: 'Greensboro', cod: 200,
    }
    this.mutate?.(doc)
    return {status: 200, body: doc}
  }
}
