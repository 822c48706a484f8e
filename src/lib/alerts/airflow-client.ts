import axios, {type AxiosInstance, type AxiosResponse, type Method} from 'axios'

/**
 * A failed Airflow call. `transient` says whether asking again later can succeed by itself
 * (Airflow down, overloaded, timing out, a conflict) or only after someone fixes something
 * (credentials refused, unknown DAG, a body Airflow rejects).
 */
export class AirflowError extends Error {
  readonly status: number | undefined
  readonly transient: boolean

  constructor(message: string, options: {status?: number; transient: boolean; cause?: unknown}) {
    super(message, {cause: options.cause})
    this.name = 'AirflowError'
    this.status = options.status
    this.transient = options.transient
  }
}

/** The fields of Airflow 3's DAGRunResponse that rps reads. */
export interface DagRun {
  dag_run_id: string
  dag_id: string
  state: string
  logical_date: string | null
  data_interval_start: string | null
  data_interval_end: string | null
  run_type?: string
  conf?: Record<string, unknown> | null
  note?: string | null
}

export interface TriggerRequest {
  runId: string
  /** Explicit and timezone-aware: a run with logical_date null has no data interval, and every task templated on it fails. */
  logicalDate: Date
  conf: Record<string, unknown>
  note?: string
}

/** The part of the Airflow REST API the alert sink needs; tests of the dedupe logic substitute it. */
export interface AirflowApi {
  readonly url: string
  dag(dagId: string): Promise<{dag_id: string; is_paused: boolean}>
  activeRuns(dagId: string): Promise<DagRun[]>
  trigger(dagId: string, request: TriggerRequest): Promise<DagRun>
}

export interface AirflowClientOptions {
  /** Base URL of the api-server, e.g. http://127.0.0.1:8080 (RPS_AIRFLOW_URL). */
  url: string
  /** With both: POST /auth/token {username, password}. Without: GET /auth/token, which only the simple auth manager with simple_auth_manager_all_admins=True (scripts/airflow-env.sh) answers. */
  username?: string
  password?: string
  timeoutMs?: number
}

/** Statuses after which the same request may succeed later on its own. */
function transientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 409 || status === 429
}

function detailOf(res: AxiosResponse): string {
  const body = res.data as {detail?: unknown} | string | undefined
  const detail = typeof body === 'object' && body !== null && 'detail' in body ? body.detail : body
  const text = typeof detail === 'string' ? detail : JSON.stringify(detail)
  return (text ?? '').slice(0, 300)
}

/** Airflow 3 REST client (/api/v2 with a JWT from /auth/token), one token per operation; 5 s per request: the sink answers Alertmanager within about 30 s even when Airflow hangs. */
export class AirflowClient implements AirflowApi {
  readonly url: string
  private readonly http: AxiosInstance
  private readonly username: string | undefined
  private readonly password: string | undefined

  constructor(options: AirflowClientOptions) {
    this.url = options.url.replace(/\/+$/, '')
    this.username = options.username || undefined
    this.password = options.password || undefined
    this.http = axios.create({
      baseURL: this.url,
      timeout: options.timeoutMs ?? 5000,
      headers: {Accept: 'application/json'},
      validateStatus: () => true,
      // Airflow's URL and credentials come from the environment; never an HTTP(S)_PROXY on the way.
      proxy: false,
    })
  }

  async dag(dagId: string): Promise<{dag_id: string; is_paused: boolean}> {
    return this.call('GET', `/api/v2/dags/${encodeURIComponent(dagId)}`, `read DAG ${dagId}`)
  }

  async activeRuns(dagId: string): Promise<DagRun[]> {
    // state is a list filter (any of); the newest first.
    const path = `/api/v2/dags/${encodeURIComponent(dagId)}/dagRuns?state=queued&state=running&order_by=-run_after&limit=20`
    const body = await this.call<{dag_runs: DagRun[]}>('GET', path, `list active runs of ${dagId}`)
    return body.dag_runs ?? []
  }

  async trigger(dagId: string, request: TriggerRequest): Promise<DagRun> {
    const body = {dag_run_id: request.runId, logical_date: request.logicalDate.toISOString(), conf: request.conf, ...(request.note ? {note: request.note} : {})}
    return this.call('POST', `/api/v2/dags/${encodeURIComponent(dagId)}/dagRuns`, `trigger a run of ${dagId}`, body)
  }

  private async token(): Promise<string> {
    const withCredentials = this.username !== undefined && this.password !== undefined
    const res = await this.send(withCredentials ? 'POST' : 'GET', '/auth/token', 'get a token', withCredentials ? {username: this.username, password: this.password} : undefined)
    const token = (res.data as {access_token?: unknown} | undefined)?.access_token
    if (res.status >= 200 && res.status < 300 && typeof token === 'string') return token
    if (res.status === 401 || res.status === 403) {
      const hint = withCredentials ? 'check RPS_AIRFLOW_USERNAME/RPS_AIRFLOW_PASSWORD' : 'this Airflow needs credentials: set RPS_AIRFLOW_USERNAME and RPS_AIRFLOW_PASSWORD'
      throw new AirflowError(`Airflow at ${this.url} refused a token (HTTP ${res.status} ${detailOf(res)}): ${hint}`, {status: res.status, transient: false})
    }
    throw new AirflowError(`Airflow at ${this.url}: get a token: HTTP ${res.status} ${detailOf(res)}`, {status: res.status, transient: transientStatus(res.status)})
  }

  private async call<T>(method: Method, path: string, what: string, body?: unknown): Promise<T> {
    const token = await this.token()
    const res = await this.send(method, path, what, body, token)
    if (res.status >= 200 && res.status < 300) return res.data as T
    throw new AirflowError(`Airflow at ${this.url}: ${what}: HTTP ${res.status} ${detailOf(res)}`, {status: res.status, transient: transientStatus(res.status)})
  }

  private async send(method: Method, path: string, what: string, body?: unknown, token?: string): Promise<AxiosResponse> {
    try {
      return await this.http.request({method, url: path, data: body, headers: token ? {Authorization: `Bearer ${token}`} : {}})
    } catch (error) {
      const err = error as Error & {code?: string}
      throw new AirflowError(`Airflow at ${this.url} unreachable (${what}): ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' '), {transient: true, cause: error})
    }
  }
}
