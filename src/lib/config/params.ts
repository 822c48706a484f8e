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
  /** The longest horizon: the one single-horizon scores (meta.metrics, drift) use. */
  horizon_hours: number
  /** Every horizon forecast, one forest each (default [horizon_hours]); the largest is horizon_hours. */
  horizons?: number[]
  /** Prediction interval levels, e.g. [0.8, 0.95] (default those two). */
  intervals?: {levels?: number[]; aci_gamma?: number; window_hours?: number}
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
  const problems = paramsProblems(params)
  if (problems.length) {
    throw new ConfigError(`params file ${path} is invalid: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`, [
      `fix ${[...new Set(problems.map((p) => p.key))].join(', ')} in ${path}`,
    ])
  }
  return params
}

/** One thing in params.yaml that cannot work, and the key to fix. */
export interface ParamsProblem {
  key: string
  message: string
}

/**
 * What the schema cannot see: every input a feature or the target needs must be one of
 * `variables` (else featurize fails later on a missing column). All problems, not the first.
 */
export function paramsProblems(params: Params): ParamsProblem[] {
  const problems: ParamsProblem[] = []
  const vars = new Set(params.variables)
  const listed = `[${params.variables.join(', ')}]`
  if (!vars.has(params.target)) problems.push({key: 'target', message: `'${params.target}' must be one of variables ${listed}`})
  const features = (params.features ?? {}) as {lag_variables?: string[]; rolling_variables?: string[]; diffs?: Record<string, number[]>}
  const missing = (key: string, names: string[]) => {
    const absent = [...new Set(names.filter((n) => !vars.has(n)))]
    if (absent.length) problems.push({key, message: `${absent.join(', ')} ${absent.length === 1 ? 'is' : 'are'} not in variables ${listed}`})
  }
  missing('features.lag_variables', features.lag_variables ?? [])
  missing('features.rolling_variables', features.rolling_variables ?? [])
  missing('features.diffs', Object.keys(features.diffs ?? {}))
  if (params.horizons && Math.max(...params.horizons) !== params.horizon_hours) {
    problems.push({key: 'horizons', message: `the longest horizon (${Math.max(...params.horizons)} h) must equal horizon_hours (${params.horizon_hours} h)`})
  }
  const duplicates = params.variables.filter((v, i) => params.variables.indexOf(v) !== i)
  if (duplicates.length) problems.push({key: 'variables', message: `listed twice: ${[...new Set(duplicates)].join(', ')}`})
  return problems
}
