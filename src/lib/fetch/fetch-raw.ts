import {type Location, type Params, SOURCE_NAMES, type SourceName} from '../config/params.js'
import {ConfigError} from '../errors.js'
import {saveCaptures} from '../raw/store.js'
import type {RetryInfo} from '../sources/http.js'
import {sourceByName} from '../sources/index.js'
import {checkSourceVariables} from '../sources/variables.js'

export interface FetchOptions {
  source?: string
  at?: string
  backfillDays?: number
  pastHours?: number
  file?: string
  location?: Partial<Location>
  retries?: number
  timeoutMs?: number
  now?: Date
  env?: NodeJS.ProcessEnv
  onRetry?: (info: RetryInfo) => void
}

export interface FetchedFile {
  kind: string
  body: string
  meta: string
  bytes: number
  httpStatus: number | null
  attempts: number
}

export interface FetchResult {
  source: SourceName
  location: string
  collectedAt: string
  files: FetchedFile[]
}

/** The source to use: --source, else RPS_SOURCE, else params.yaml fetch.source; params.yaml variables must be ones it knows. */
export function resolveSource(flag: string | undefined, params: Params, env: NodeJS.ProcessEnv): SourceName {
  const name = flag ?? env.RPS_SOURCE ?? params.fetch.source
  if (!SOURCE_NAMES.includes(name as SourceName)) {
    throw new ConfigError(`unknown source '${name}'; choose one of ${SOURCE_NAMES.join(', ')}`)
  }
  checkSourceVariables(params, name as SourceName, env)
  return name as SourceName
}

export function parseReplayClock(at: string | undefined): Date | undefined {
  if (at === undefined) return undefined
  const ms = Date.parse(at)
  if (Number.isNaN(ms)) throw new ConfigError(`--at '${at}' is not an ISO 8601 time (e.g. 2026-03-01T12:00:00Z)`)
  return new Date(ms)
}

/** Fetches from one source and saves every response as received (atomically) under data/raw. */
export async function fetchRaw(params: Params, options: FetchOptions = {}): Promise<FetchResult> {
  const env = options.env ?? process.env
  const source = resolveSource(options.source, params, env)
  const location: Location = {...params.location, ...stripUndefined(options.location ?? {})}
  if (!/^[a-z0-9][a-z0-9-]*$/.test(location.name)) {
    throw new ConfigError(`location name '${location.name}' must be lowercase letters, digits and dashes`)
  }
  if (options.at !== undefined && source !== 'replay') throw new ConfigError('--at (the replay clock) only applies to --source replay')
  // Airflow passes the run's data interval as RPS_REPLAY_AT; live sources ignore it.
  const at = parseReplayClock(options.at ?? (source === 'replay' ? env.RPS_REPLAY_AT || undefined : undefined))
  if (options.file && source !== 'csv') throw new ConfigError('--file only applies to --source csv')
  const backfillDays = options.backfillDays ?? 0
  if (!Number.isInteger(backfillDays) || backfillDays < 0) throw new ConfigError('--backfill-days must be a whole number >= 0')
  const fetchParams: Params = {
    ...params,
    fetch: {
      ...params.fetch,
      timeout_ms: options.timeoutMs ?? params.fetch.timeout_ms,
      retry: {...params.fetch.retry, attempts: options.retries === undefined ? params.fetch.retry.attempts : options.retries + 1},
    },
  }
  const now = options.now ?? new Date()
  const captures = await sourceByName(source).fetch({
    params: fetchParams,
    location,
    variables: params.variables,
    pastHours: options.pastHours ?? params.fetch.past_hours,
    backfillDays,
    now,
    at,
    file: options.file,
    env,
    onRetry: options.onRetry,
  })
  const saved = await saveCaptures(captures, env)
  return {
    source,
    location: location.name,
    collectedAt: saved[0]?.meta.collectedAt ?? now.toISOString(),
    files: saved.map((s) => ({
      kind: s.meta.kind, body: s.bodyPath, meta: s.metaPath, bytes: s.meta.bodyBytes,
      httpStatus: s.meta.httpStatus, attempts: s.meta.attempts,
    })),
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
