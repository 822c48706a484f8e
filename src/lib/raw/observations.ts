import type {SourceName} from '../config/params.js'

/** One raw body turned into columns: the shape the gate checks and featurize merges. */
export interface Observations {
  /** Epoch ms per row (UTC); null where the timestamp does not parse. */
  time: (number | null)[]
  /** The timestamps as the source wrote them. */
  rawTime: string[]
  columns: Record<string, (number | null)[]>
  /** The variables this source provides: the ones the null check applies to. */
  keyColumns: string[]
  /** Rows dropped because they lie after `observedUntil` (forecast hours). */
  droppedFuture: number
}

export type RawFormat = 'open-meteo' | 'openweathermap'

export function rawFormatOf(source: SourceName): RawFormat {
  return source === 'openweathermap' ? 'openweathermap' : 'open-meteo'
}

export function schemaFileFor(format: RawFormat): string {
  return `raw/${format}.schema.json`
}

/** Parses Open-Meteo's `YYYY-MM-DDTHH:MM` (local to utc_offset_seconds) into epoch ms. */
export function parseOpenMeteoTime(value: unknown, utcOffsetSeconds: number): number | null {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null
  const ms = Date.parse(`${value}Z`)
  return Number.isNaN(ms) ? null : ms - utcOffsetSeconds * 1000
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/**
 * Normalizes a schema-valid body. Hours after `observedUntil` are forecasts, not observations,
 * and are dropped (Open-Meteo's forecast endpoint returns both).
 */
export function toObservations(format: RawFormat, body: unknown, variables: string[], observedUntilMs: number): Observations {
  return format === 'openweathermap' ? fromOpenWeatherMap(body, variables) : fromOpenMeteo(body, variables, observedUntilMs)
}

function fromOpenMeteo(body: unknown, variables: string[], observedUntilMs: number): Observations {
  const b = body as {utc_offset_seconds?: number; hourly?: Record<string, unknown[]>}
  const hourly = b.hourly ?? {}
  const offset = typeof b.utc_offset_seconds === 'number' ? b.utc_offset_seconds : 0
  const rawTime = (hourly.time ?? []).map((t) => String(t))
  const keyColumns = variables.filter((v) => Array.isArray(hourly[v]))
  const time: (number | null)[] = []
  const kept: string[] = []
  const columns: Record<string, (number | null)[]> = Object.fromEntries(keyColumns.map((v) => [v, []]))
  let droppedFuture = 0
  rawTime.forEach((t, i) => {
    const ms = parseOpenMeteoTime(t, offset)
    if (ms !== null && ms > observedUntilMs) {
      droppedFuture++
      return
    }
    time.push(ms)
    kept.push(t)
    for (const v of keyColumns) columns[v]!.push(numberOrNull(hourly[v]![i]))
  })
  return {time, rawTime: kept, columns, keyColumns, droppedFuture}
}

/** Dew point from temperature and humidity (Magnus formula, Alduchov & Eskridge constants). */
export function dewPoint(temperatureC: number, relativeHumidity: number): number {
  const a = 17.625
  const b = 243.04
  const gamma = Math.log(Math.max(relativeHumidity, 1e-6) / 100) + (a * temperatureC) / (b + temperatureC)
  return Math.round(((b * gamma) / (a - gamma)) * 10) / 10
}

function fromOpenWeatherMap(body: unknown, variables: string[]): Observations {
  const b = body as {dt: number; main: Record<string, unknown>; wind: Record<string, unknown>; clouds?: Record<string, unknown>}
  const temp = numberOrNull(b.main.temp)
  const humidity = numberOrNull(b.main.humidity)
  const wind = numberOrNull(b.wind.speed)
  const provided: Record<string, number | null> = {
    temperature_2m: temp,
    relative_humidity_2m: humidity,
    dew_point_2m: temp !== null && humidity !== null ? dewPoint(temp, humidity) : null,
    surface_pressure: numberOrNull(b.main.grnd_level) ?? numberOrNull(b.main.pressure),
    wind_speed_10m: wind === null ? null : Math.round(wind * 3.6 * 10) / 10,
    wind_direction_10m: numberOrNull(b.wind.deg),
    cloud_cover: numberOrNull(b.clouds?.all),
  }
  const keyColumns = variables.filter((v) => v in provided)
  const columns = Object.fromEntries(keyColumns.map((v) => [v, [provided[v] ?? null]]))
  return {time: [b.dt * 1000], rawTime: [String(b.dt)], columns, keyColumns, droppedFuture: 0}
}
