import axios, {type AxiosResponse} from 'axios'

import type {RetryPolicy} from '../config/params.js'
import {ExitCode, RpsError, TransportError, errorMessage} from '../errors.js'

export interface HttpRequest {
  url: string
  params: Record<string, string | number>
  timeoutMs: number
  retry: RetryPolicy
  /** Called before each wait, e.g. to log "retrying in 2.1 s (HTTP 503)". */
  onRetry?: (info: RetryInfo) => void
  /** Request parameter -> the params.yaml key (or flag) it comes from, to name it when the API rejects it. */
  paramKeys?: Record<string, string>
  /** Replaced in tests of the backoff arithmetic only. */
  sleep?: (ms: number) => Promise<void>
  random?: () => number
}

export interface RetryInfo {
  attempt: number
  delayMs: number
  reason: string
}

export interface HttpCapture {
  url: string
  status: number
  contentType: string | undefined
  body: string
  /** The body parsed as JSON (every source we call answers JSON). */
  json: unknown
  attempts: number
  elapsedMs: number
}

interface AttemptOutcome {
  retryable: boolean
  reason: string
  status?: number
  retryAfterMs?: number
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.max_delay_ms, policy.base_delay_ms * 2 ** (attempt - 1))
  return Math.round(random() * ceiling)
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** The API's own reason: Open-Meteo `{"error":true,"reason":...}`, OpenWeatherMap `{"cod":..,"message":..}`. */
export function apiReason(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>
    if (typeof parsed.reason === 'string') return parsed.reason
    if (typeof parsed.message === 'string') return parsed.message
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = body.trim().replace(/\s+/g, ' ')
  return text ? text.slice(0, 200) : undefined
}

/**
 * GET with bounded retries. Timeouts, connection errors, 429, 5xx and 200s whose body is not
 * JSON are retried (waiting Retry-After when the server sends one); other 4xx fail at once
 * with the API's reason.
 */
export async function getJsonWithRetry(request: HttpRequest): Promise<HttpCapture> {
  const sleep = request.sleep ?? defaultSleep
  const started = Date.now()
  let last: AttemptOutcome = {retryable: false, reason: 'no attempt made'}
  for (let attempt = 1; attempt <= request.retry.attempts; attempt++) {
    let response: AxiosResponse<string> | undefined
    try {
      response = await axios.get<string>(request.url, {
        params: request.params,
        timeout: request.timeoutMs,
        signal: AbortSignal.timeout(request.timeoutMs),
        responseType: 'text',
        transformResponse: (data: string) => data,
        validateStatus: () => true,
        maxRedirects: 3,
        headers: {'User-Agent': 'rps (https://github.com/rps) fetch', Accept: 'application/json'},
      })
    } catch (error) {
      last = {retryable: true, reason: describeNetworkError(error, request.timeoutMs)}
    }
    if (response) {
      const body = typeof response.data === 'string' ? response.data : String(response.data ?? '')
      const status = response.status
      if (status >= 200 && status < 300) {
        try {
          const json = JSON.parse(body) as unknown
          const contentType = response.headers['content-type'] as string | undefined
          return {url: fullUrl(request), status, contentType, body, json, attempts: attempt, elapsedMs: Date.now() - started}
        } catch {
          last = {retryable: true, status, reason: `HTTP ${status} with a body that is not valid JSON (${body.length} bytes)`}
        }
      } else if (status === 429 || status >= 500) {
        const retryAfter = response.headers['retry-after'] as string | undefined
        last = {retryable: true, status, reason: `HTTP ${status}${suffix(apiReason(body))}`, retryAfterMs: parseRetryAfterMs(retryAfter)}
      } else if (status === 400 || status === 422) {
        throw rejectedParameter(request, status, apiReason(body))
      } else {
        throw new TransportError(`${hostOf(request.url)} refused the request: HTTP ${status}${suffix(apiReason(body))}`, {status, code: 'HTTP_CLIENT_ERROR'})
      }
    }
    if (attempt === request.retry.attempts) break
    const backoff = backoffDelayMs(attempt, request.retry, request.random)
    if (last.retryAfterMs !== undefined && last.retryAfterMs > request.retry.max_delay_ms) {
      throw new TransportError(
        `${hostOf(request.url)}: ${last.reason}; it asks to retry after ${(last.retryAfterMs / 1000).toFixed(0)} s, more than retry.max_delay_ms (${request.retry.max_delay_ms} ms)`,
        {status: last.status},
      )
    }
    const delayMs = Math.max(backoff, last.retryAfterMs ?? 0)
    request.onRetry?.({attempt, delayMs, reason: last.reason})
    await sleep(delayMs)
  }
  throw new TransportError(`${hostOf(request.url)}: gave up after ${request.retry.attempts} attempt(s): ${last.reason}`, {status: last.status})
}

/**
 * A 400/422 is the API saying a parameter is invalid: a configuration error (exit 5), naming the
 * params.yaml keys whose request parameter (by name or by value) its reason mentions.
 */
export function rejectedParameter(request: Pick<HttpRequest, 'url' | 'params' | 'paramKeys'>, status: number, reason: string | undefined): RpsError {
  const text = (reason ?? '').toLowerCase()
  const keys = new Set<string>()
  for (const [param, key] of Object.entries(request.paramKeys ?? {})) {
    const values = String(request.params[param] ?? '').split(',').filter((v) => v.length >= 3)
    if (text.includes(param.toLowerCase()) || text.includes(param.replaceAll('_', ' ').toLowerCase()) || values.some((v) => text.includes(v.toLowerCase()))) keys.add(key)
  }
  const fix = keys.size ? `fix ${[...keys].join(', ')}` : `check ${[...new Set(Object.values(request.paramKeys ?? {}))].join(', ') || 'the request parameters'}`
  return new RpsError(`${hostOf(request.url)} rejected a request parameter: HTTP ${status}${suffix(reason)} (${fix})`, {
    code: 'SOURCE_REJECTED_PARAMETER', exitCode: ExitCode.config, suggestions: [`${fix} in params.yaml or the command's flags`],
  })
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  const code = (error as {code?: string}).code
  const name = (error as {name?: string}).name
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || name === 'TimeoutError' || name === 'CanceledError' || code === 'ERR_CANCELED') {
    return `no complete answer within ${timeoutMs} ms`
  }
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ECONNRESET' || code === 'ERR_BAD_RESPONSE' || /aborted|socket hang up/i.test(errorMessage(error))) return 'connection dropped before the answer was complete'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name could not be resolved'
  return `${code ?? name ?? 'error'}: ${errorMessage(error)}`
}

function suffix(reason: string | undefined): string {
  return reason ? `: ${reason}` : ''
}

function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return url
  }
}

function fullUrl(request: HttpRequest): string {
  const url = new URL(request.url)
  for (const [k, v] of Object.entries(request.params)) url.searchParams.set(k, String(v))
  return url.toString()
}
