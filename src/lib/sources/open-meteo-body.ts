import type {Location} from '../config/params.js'

/** Open-Meteo's default hourly units for the variables rps uses. */
export const OPEN_METEO_UNITS: Record<string, string> = {
  temperature_2m: '°C',
  relative_humidity_2m: '%',
  dew_point_2m: '°C',
  surface_pressure: 'hPa',
  pressure_msl: 'hPa',
  wind_speed_10m: 'km/h',
  wind_direction_10m: '°',
  cloud_cover: '%',
  shortwave_radiation: 'W/m²',
}

/** `2026-11-26T22:00` — Open-Meteo's iso8601 hourly stamp (UTC here: timezone GMT). */
export function openMeteoStamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16)
}

/**
 * Builds a body in Open-Meteo's documented single-location format, so the replay and csv
 * sources are read, checked and featurized exactly like the live API.
 */
export function buildOpenMeteoBody(
  location: Location,
  elevation: number,
  time: string[],
  columns: Record<string, unknown[]>,
  generationMs: number,
): string {
  const hourlyUnits: Record<string, string> = {time: 'iso8601'}
  for (const name of Object.keys(columns)) hourlyUnits[name] = OPEN_METEO_UNITS[name] ?? ''
  return JSON.stringify({
    latitude: location.latitude,
    longitude: location.longitude,
    generationtime_ms: generationMs,
    utc_offset_seconds: 0,
    timezone: 'GMT',
    timezone_abbreviation: 'GMT',
    elevation,
    hourly_units: hourlyUnits,
    hourly: {time, ...columns},
  })
}
