import {existsSync, readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {parse as parseYaml} from 'yaml'

import {ConfigError} from '../errors.js'
import {describeSchemaErrors, schemaValidator} from '../util/json-schema.js'
import {projectRoot, workDir} from '../util/project.js'

export type SourceName = 'replay' | 'open-meteo' | 'openweathermap' | 'csv'
export const SOURCE_NAMES: SourceName[] = ['replay', 'open-meteo', 'openweathermap', 'csv']

export interface Location {
  name: string
  latitude: number
  longitude: number
  timezone: string
}

export interface RetryPolicy {
  attempts: number
  base_delay_ms: number
  max_delay_ms: number
}

export interface QualityThresholds {
  max_null_ratio: number
  max_gap_ratio: number
  max_out_of_range_ratio: number
  max_staleness_hours: number
  min_rows: number
  min_rows_single_observation?: number
  ranges: Record<string, [number, number]>
}

/** params.yaml, as validated by schemas/params.schema.json (keys kept as written in YAML). */
export interface Params {
  location: Location
  target: string
  horizon_hours: number
  variables: string[]
  fetch: {
    source: SourceName
    past_hours: number
    timeout_ms: number
    retry: RetryPolicy
  }
  history?: {window_days?: number}
  quality: QualityThresholds
  [section: string]: unknown
}

/** params.yaml location: explicit path, RPS_PARAMS, ./params.yaml, else the repo's own. */
export function resolveParamsPath(explicit?: string): string {
  if (explicit) return resolve(explicit)
  if (process.env.RPS_PARAMS) return resolve(process.env.RPS_PARAMS)
  const local = join(workDir(), 'params.yaml')
  return existsSync(local) ? local : join(projectRoot(), 'params.yaml')
}

export function loadParams(explicit?: string): Params {
  const path = resolveParamsPath(explicit)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    throw new ConfigError(`cannot read params file ${path}`, ['create it from the repo\'s params.yaml or pass --params'])
  }
  let data: unknown
  try {
    data = parseYaml(text)
  } catch (error) {
    throw new ConfigError(`params file ${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`)
  }
  const validate = schemaValidator('params.schema.json')
  if (!validate(data)) {
    throw new ConfigError(`params file ${path} is invalid: ${describeSchemaErrors(validate.errors).join('; ')}`)
  }
  const params = data as Params
  if (!params.variables.includes(params.target)) {
    throw new ConfigError(`params file ${path}: target '${params.target}' must be one of variables [${params.variables.join(', ')}]`)
  }
  return params
}
