import type {Location, Params, SourceName} from '../config/params.js'
import type {RetryInfo} from './http.js'

/** What one call to a source asks for. */
export interface FetchRequest {
  params: Params
  location: Location
  variables: string[]
  /** Recent hours of observations to ask for. */
  pastHours: number
  /** Extra history for a new location (open-meteo: the archive endpoint). */
  backfillDays: number
  /** Wall-clock time of the fetch. */
  now: Date
  /** Replay clock: the instant up to which replayed hours count as observed. */
  at?: Date
  /** csv source: the file to read. */
  file?: string
  env: NodeJS.ProcessEnv
  onRetry?: (info: RetryInfo) => void
}

/** Per-request facts saved beside each raw body (the sidecar `.meta.json`). */
export interface RawMeta {
  source: SourceName
  /** Which request of the fetch: forecast | archive | current | replay | csv. */
  kind: string
  location: Location
  /** When the data was collected (replay: the replay clock), ISO 8601 UTC. */
  collectedAt: string
  /** Wall-clock time of the fetch, ISO 8601 UTC. */
  fetchedAt: string
  /** Observations after this instant are forecasts, not observations (ISO 8601 UTC). */
  observedUntil: string
  /** Whether freshness applies (live data) or not (archive, user CSV). */
  live: boolean
  request: {url: string; params: Record<string, string | number>}
  httpStatus: number | null
  contentType?: string
  attempts: number
  elapsedMs: number
  bodyBytes: number
  bodySha256?: string
  extra?: Record<string, unknown>
}

/** One raw response as received, with its metadata. */
export interface RawCapture {
  body: string
  meta: RawMeta
}

export interface Source {
  name: SourceName
  fetch(request: FetchRequest): Promise<RawCapture[]>
}
