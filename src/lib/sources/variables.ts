import {openSync, readSync, closeSync} from 'node:fs'

import type {Params, SourceName} from '../config/params.js'
import {ConfigError} from '../errors.js'
import {replayFilePath} from './replay-series.js'

/**
 * Open-Meteo's hourly variables (forecast and archive APIs, https://open-meteo.com/en/docs):
 * the names every rps source stores its columns under.
 */
export const OPEN_METEO_HOURLY_VARIABLES: readonly string[] = [
  'temperature_2m', 'relative_humidity_2m', 'dew_point_2m', 'apparent_temperature', 'wet_bulb_temperature_2m',
  'precipitation_probability', 'precipitation', 'rain', 'showers', 'snowfall', 'snow_depth',
  'snowfall_water_equivalent', 'snow_depth_water_equivalent', 'weather_code', 'pressure_msl', 'surface_pressure',
  'cloud_cover', 'cloud_cover_low', 'cloud_cover_mid', 'cloud_cover_high', 'visibility', 'evapotranspiration',
  'et0_fao_evapotranspiration', 'vapour_pressure_deficit', 'wind_speed_10m', 'wind_speed_80m', 'wind_speed_100m',
  'wind_speed_120m', 'wind_speed_180m', 'wind_direction_10m', 'wind_direction_80m', 'wind_direction_100m',
  'wind_direction_120m', 'wind_direction_180m', 'wind_gusts_10m', 'temperature_80m', 'temperature_120m',
  'temperature_180m', 'soil_temperature_0cm', 'soil_temperature_6cm', 'soil_temperature_18cm', 'soil_temperature_54cm',
  'soil_temperature_0_to_7cm', 'soil_temperature_7_to_28cm', 'soil_temperature_28_to_100cm', 'soil_temperature_100_to_255cm',
  'soil_moisture_0_to_1cm', 'soil_moisture_1_to_3cm', 'soil_moisture_3_to_9cm', 'soil_moisture_9_to_27cm',
  'soil_moisture_27_to_81cm', 'soil_moisture_0_to_7cm', 'soil_moisture_7_to_28cm', 'soil_moisture_28_to_100cm',
  'soil_moisture_100_to_255cm', 'is_day', 'sunshine_duration', 'uv_index', 'uv_index_clear_sky', 'cape',
  'lifted_index', 'convective_inhibition', 'freezing_level_height', 'boundary_layer_height', 'total_column_integrated_water_vapour',
  'shortwave_radiation', 'direct_radiation', 'diffuse_radiation', 'direct_normal_irradiance', 'global_tilted_irradiance',
  'terrestrial_radiation', 'shortwave_radiation_instant', 'direct_radiation_instant', 'diffuse_radiation_instant',
  'direct_normal_irradiance_instant', 'global_tilted_irradiance_instant', 'terrestrial_radiation_instant',
]

/** Pressure-level variables, e.g. temperature_850hPa. */
const PRESSURE_LEVEL = /^(temperature|relative_humidity|dew_point|cloud_cover|wind_speed|wind_direction|geopotential_height|vertical_velocity)_\d{2,4}hPa$/

function openMeteoKnows(name: string): boolean {
  return OPEN_METEO_HOURLY_VARIABLES.includes(name) || PRESSURE_LEVEL.test(name)
}

/** The replay dataset's columns (its header line). */
function replayColumns(env: NodeJS.ProcessEnv): string[] {
  const path = replayFilePath(env)
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    throw new ConfigError(`replay dataset not found at ${path}`, ['set RPS_REPLAY_FILE or restore data/replay/ from git'])
  }
  try {
    const buf = Buffer.alloc(4096)
    const header = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8').split(/\r?\n/)[0] ?? ''
    return header.split(',').slice(1).map((c) => c.trim())
  } finally {
    closeSync(fd)
  }
}

/**
 * Which names a source can deliver: replay exactly its dataset's columns; Open-Meteo its hourly
 * variables; OpenWeatherMap and CSV store Open-Meteo names too (a column a given CSV or answer
 * lacks is a data question for the quality gate, not a configuration error).
 */
export function sourceKnows(source: SourceName, env: NodeJS.ProcessEnv): {knows: (name: string) => boolean; describe: string} {
  if (source === 'replay') {
    const columns = replayColumns(env)
    return {knows: (n) => columns.includes(n), describe: `the replay dataset has ${columns.join(', ')}`}
  }
  return {knows: openMeteoKnows, describe: 'see the hourly variables of https://open-meteo.com/en/docs'}
}

/** Fails (exit 5, params key `variables`) listing every variable the chosen source does not know. */
export function checkSourceVariables(params: Params, source: SourceName, env: NodeJS.ProcessEnv): void {
  const {knows, describe} = sourceKnows(source, env)
  const unknown = params.variables.filter((v) => !knows(v))
  if (unknown.length === 0) return
  throw new ConfigError(`params.yaml variables: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not known to the ${source} source (${describe})`, [
    `remove or rename ${unknown.join(', ')} in params.yaml variables (and any features.* entry that uses ${unknown.length === 1 ? 'it' : 'them'})`,
  ])
}
