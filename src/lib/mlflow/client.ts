import axios, {type AxiosInstance, type AxiosRequestConfig} from 'axios'
import {createReadStream} from 'node:fs'
import {readdir, stat} from 'node:fs/promises'
import {join, posix, relative} from 'node:path'

import {ConfigError, RpsError, TransportError, errorMessage} from '../errors.js'
import {backoffDelayMs} from '../sources/http.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {containedPath} from '../util/contained-path.js'

/** An error MLflow answered with: its error_code and message pass through unchanged. */
export class MlflowError extends RpsError {
  readonly errorCode: string
  readonly status: number

  constructor(status: number, errorCode: string, message: string, what: string) {
    super(`MLflow ${what}: ${errorCode}: ${message}`, {code: `MLFLOW_${errorCode}`, exitCode: status >= 500 ? 4 : 1})
    this.name = 'MlflowError'
    this.errorCode = errorCode
    this.status = status
  }
}

export interface Experiment {
  experiment_id: string
  name: string
  artifact_location?: string
  lifecycle_stage?: string
}

export interface RunInfo {
  run_id: string
  experiment_id: string
  status: string
  artifact_uri: string
  start_time?: number
  end_time?: number
}

export interface Run {
  info: RunInfo
  data: {metrics?: {key: string; value: number}[]; params?: {key: string; value: string}[]; tags?: {key: string; value: string}[]}
}

export interface ModelVersion {
  name: string
  version: string
  source: string
  run_id?: string
  status?: string
  aliases?: string[]
  tags?: {key: string; value: string}[]
  creation_timestamp?: number
}

export interface Metric {
  key: string
  value: number
  timestamp: number
  step: number
}

/** Server-side limits of runs/log-batch (mlflow/utils/validation.py). */
export const BATCH_LIMITS = {metrics: 1000, params: 100, tags: 100, entities: 1000}

export interface MlflowClientOptions {
  trackingUri: string
  username?: string
  password?: string
  token?: string
  timeoutMs?: number
  attempts?: number
}

export class MlflowClient {
  readonly trackingUri: string
  private readonly http: AxiosInstance
  private readonly attempts: number

  constructor(options: MlflowClientOptions) {
    this.trackingUri = options.trackingUri.replace(/\/+$/, '')
    this.attempts = options.attempts ?? 4
    const headers: Record<string, string> = {}
    if (options.token) headers.Authorization = `Bearer ${options.token}`
    this.http = axios.create({
      baseURL: this.trackingUri,
      timeout: options.timeoutMs ?? 30_000,
      headers,
      auth: options.username ? {username: options.username, password: options.password ?? ''} : undefined,
      validateStatus: () => true,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
    })
  }

  /** MLFLOW_TRACKING_URI (+ MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): MlflowClient {
    const trackingUri = env.MLFLOW_TRACKING_URI
    if (!trackingUri) throw new ConfigError('MLFLOW_TRACKING_URI is not set', ['start the local stack (make up) and export MLFLOW_TRACKING_URI=http://127.0.0.1:5000'])
    if (!/^https?:\/\//.test(trackingUri)) throw new ConfigError(`MLFLOW_TRACKING_URI must be an http(s) URL of a tracking server, got ${trackingUri}`)
    return new MlflowClient({
      trackingUri, username: env.MLFLOW_TRACKING_USERNAME, password: env.MLFLOW_TRACKING_PASSWORD, token: env.MLFLOW_TRACKING_TOKEN,
    })
  }

  /** One request with retries on connection errors, 429 and 5xx; MLflow's own errors surface as MlflowError. */
  private async request<T>(what: string, config: AxiosRequestConfig): Promise<T> {
    let lastReason = ''
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        const response = await this.http.request(config)
        if (response.status >= 200 && response.status < 300) return response.data as T
        const body = response.data as {error_code?: string; message?: string} | string
        const code = typeof body === 'object' && body?.error_code ? body.error_code : `HTTP_${response.status}`
        const message = typeof body === 'object' && body?.message ? body.message : String(body).slice(0, 300)
        if (response.status !== 429 && response.status < 500) throw new MlflowError(response.status, code, message, what)
        lastReason = `${code}: ${message}`
      } catch (error) {
        if (error instanceof MlflowError) throw error
        lastReason = errorMessage(error)
      }
      if (attempt < this.attempts) await new Promise((r) => setTimeout(r, backoffDelayMs(attempt, {attempts: this.attempts, base_delay_ms: 300, max_delay_ms: 5000})))
    }
    throw new TransportError(`MLflow ${what} at ${this.trackingUri} failed after ${this.attempts} attempt(s): ${lastReason}`, {code: 'MLFLOW_UNREACHABLE'})
  }

  private get<T>(path: string, params: Record<string, string>, what: string) {
    return this.request<T>(what, {method: 'GET', url: `/api/2.0/mlflow/${path}`, params})
  }

  private post<T>(path: string, data: object, what: string) {
    return this.request<T>(what, {method: 'POST', url: `/api/2.0/mlflow/${path}`, data})
  }

  // Experiments ---------------------------------------------------------------------------------

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      return (await this.get<{experiment: Experiment}>('experiments/get-by-name', {experiment_name: name}, `experiment '${name}'`)).experiment
    } catch (error) {
      if (error instanceof MlflowError && error.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined
      throw error
    }
  }

  async getOrCreateExperiment(name: string): Promise<Experiment> {
    const existing = await this.getExperimentByName(name)
    if (existing) return existing
    try {
      await this.post<{experiment_id: string}>('experiments/create', {name}, `create experiment '${name}'`)
    } catch (error) {
      // another process may have created it between our two calls
      if (!(error instanceof MlflowError && error.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw error
    }
    return (await this.getExperimentByName(name))!
  }

  // Runs ----------------------------------------------------------------------------------------

  async createRun(experimentId: string, runName: string, tags: Record<string, string> = {}): Promise<RunInfo> {
    const body = {experiment_id: experimentId, run_name: runName, start_time: Date.now(), tags: Object.entries(tags).map(([key, value]) => ({key, value}))}
    return (await this.post<{run: Run}>('runs/create', body, 'create run')).run.info
  }

  async getRun(runId: string): Promise<Run> {
    return (await this.get<{run: Run}>('runs/get', {run_id: runId}, `run ${runId}`)).run
  }

  /** Logs any number of metrics, params and tags, split into requests within the server's limits. */
  async logBatch(runId: string, batch: {metrics?: Metric[]; params?: Record<string, string>; tags?: Record<string, string>}): Promise<number> {
    const metrics = [...(batch.metrics ?? [])]
    const params = Object.entries(batch.params ?? {}).map(([key, value]) => ({key, value}))
    const tags = Object.entries(batch.tags ?? {}).map(([key, value]) => ({key, value}))
    let requests = 0
    while (metrics.length || params.length || tags.length) {
      const p = params.splice(0, BATCH_LIMITS.params)
      const t = tags.splice(0, BATCH_LIMITS.tags)
      const m = metrics.splice(0, Math.min(BATCH_LIMITS.metrics, BATCH_LIMITS.entities - p.length - t.length))
      await this.post('runs/log-batch', {run_id: runId, metrics: m, params: p, tags: t}, 'log-batch')
      requests++
    }
    return requests
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.post('runs/set-tag', {run_id: runId, key, value}, `set tag ${key}`)
  }

  async terminateRun(runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void> {
    await this.post('runs/update', {run_id: runId, status, end_time: Date.now()}, `mark run ${status}`)
  }

  /** Runs of the experiments in a given state (runs/search, newest first), at most `max`. */
  async searchRuns(experimentIds: string[], status: 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED', max = 1000): Promise<Run[]> {
    const runs: Run[] = []
    let pageToken: string | undefined
    do {
      const page = await this.post<{runs?: Run[]; next_page_token?: string}>('runs/search', {
        experiment_ids: experimentIds, filter: `attributes.status = '${status}'`, max_results: Math.min(1000, max - runs.length),
        order_by: ['attributes.start_time DESC'], ...(pageToken ? {page_token: pageToken} : {}),
      }, 'search runs')
      runs.push(...(page.runs ?? []))
      pageToken = page.next_page_token || undefined
    } while (pageToken && runs.length < max)
    return runs
  }

  /**
   * `fn` again and again while MLflow does not answer (TransportError), with exponential backoff
   * capped at 10 s, until `patienceMs` have passed; then its last error. For the writes that must
   * not be lost when the server goes away for a while: closing a run, removing a half-registered
   * version. MLflow's own answers (MlflowError) are not retried.
   */
  async whenBack<T>(fn: () => Promise<T>, patienceMs: number, onWait?: (reason: string, delayMs: number) => void): Promise<T> {
    const deadline = Date.now() + patienceMs
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (error) {
        if (!(error instanceof TransportError) || Date.now() >= deadline) throw error
        const delayMs = Math.min(deadline - Date.now(), Math.max(500, backoffDelayMs(attempt, {attempts: 0, base_delay_ms: 1000, max_delay_ms: 10_000})))
        onWait?.(error.message, delayMs)
        await new Promise((r) => setTimeout(r, delayMs))
      }
    }
  }

  // Artifacts (proxied through the tracking server) ---------------------------------------------

  /** `mlflow-artifacts:/1/abc/artifacts` -> `1/abc/artifacts`; other schemes are not reachable over HTTP. */
  artifactRoot(artifactUri: string): string {
    const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri)
    if (!match) {
      throw new ConfigError(`run artifacts live at ${artifactUri}, which rps cannot reach through the tracking server`, [
        'start the MLflow server with --serve-artifacts (the default) and an --artifacts-destination',
      ])
    }
    return match[1]!.replace(/\/+$/, '')
  }

  async uploadArtifact(artifactUri: string, localPath: string, artifactPath: string): Promise<void> {
    const url = `/api/2.0/mlflow-artifacts/artifacts/${this.artifactRoot(artifactUri)}/${artifactPath}`
    const size = (await stat(localPath)).size
    await this.request(`upload artifact ${artifactPath}`, {
      method: 'PUT', url, data: createReadStream(localPath), headers: {'Content-Type': 'application/octet-stream', 'Content-Length': String(size)},
    })
  }

  /** Uploads every file under `dir` to `artifactPath/<relative path>`; returns the paths uploaded. */
  async uploadDirectory(artifactUri: string, dir: string, artifactPath: string): Promise<string[]> {
    const uploaded: string[] = []
    const walk = async (current: string) => {
      for (const entry of await readdir(current, {withFileTypes: true})) {
        const full = join(current, entry.name)
        if (entry.isDirectory()) await walk(full)
        else {
          const target = posix.join(artifactPath, relative(dir, full).split('\\').join('/'))
          await this.uploadArtifact(artifactUri, full, target)
          uploaded.push(target)
        }
      }
    }
    await walk(dir)
    return uploaded
  }

  async listArtifacts(artifactUri: string, path = ''): Promise<{path: string; is_dir: boolean; file_size?: number}[]> {
    const root = this.artifactRoot(artifactUri)
    const response = await this.request<{files?: {path: string; is_dir: boolean; file_size?: string | number}[]}>(`list artifacts ${path}`, {
      method: 'GET', url: '/api/2.0/mlflow-artifacts/artifacts', params: {path: path ? `${root}/${path}` : root},
    })
    return (response.files ?? []).map((f) => ({path: path ? `${path}/${f.path}` : f.path, is_dir: f.is_dir, file_size: f.file_size === undefined ? undefined : Number(f.file_size)}))
  }

  async downloadArtifact(artifactUri: string, artifactPath: string, dest: string): Promise<void> {
    const data = await this.request<ArrayBuffer>(`download artifact ${artifactPath}`, {
      method: 'GET', url: `/api/2.0/mlflow-artifacts/artifacts/${this.artifactRoot(artifactUri)}/${artifactPath}`, responseType: 'arraybuffer',
    })
    await writeFileAtomic(dest, new Uint8Array(data))
  }

  /** Downloads a directory of artifacts recursively into `dest`; returns the files written. */
  async downloadDirectory(artifactUri: string, artifactPath: string, dest: string): Promise<string[]> {
    const written: string[] = []
    for (const entry of await this.listArtifacts(artifactUri, artifactPath)) {
      // The listing is the registry's word: a path outside `artifactPath`, or one that climbs out of
      // `dest` once joined, is refused before anything is written.
      const rel = posix.relative(artifactPath, entry.path)
      if (artifactPath && !entry.path.startsWith(`${artifactPath}/`)) throw new RpsError(`refusing the artifact '${entry.path}': it is not under '${artifactPath}'`, {code: 'PATH_OUTSIDE'})
      const local = containedPath(dest, rel)
      if (entry.is_dir) written.push(...(await this.downloadDirectory(artifactUri, entry.path, local)))
      else {
        await this.downloadArtifact(artifactUri, entry.path, local)
        written.push(local)
      }
    }
    return written
  }

  // Model registry --------------------------------------------------------------------------------

  async ensureRegisteredModel(name: string): Promise<void> {
    try {
      await this.post('registered-models/create', {name}, `create registered model '${name}'`)
    } catch (error) {
      if (!(error instanceof MlflowError && error.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw error
    }
  }

  async createModelVersion(name: string, source: string, runId: string, tags: Record<string, string> = {}): Promise<ModelVersion> {
    const body = {name, source, run_id: runId, tags: Object.entries(tags).map(([key, value]) => ({key, value}))}
    return (await this.post<{model_version: ModelVersion}>('model-versions/create', body, `create version of '${name}'`)).model_version
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    return (await this.get<{model_version: ModelVersion}>('model-versions/get', {name, version}, `model '${name}' version ${version}`)).model_version
  }

  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.post('model-versions/set-tag', {name, version, key, value}, `tag ${key} on '${name}' v${version}`)
  }

  async deleteModelVersion(name: string, version: string): Promise<void> {
    await this.request(`delete '${name}' v${version}`, {method: 'DELETE', url: '/api/2.0/mlflow/model-versions/delete', data: {name, version}})
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.post('registered-models/alias', {name, alias, version}, `set alias @${alias} on '${name}' v${version}`)
  }

  /** The version an alias points at, or undefined when the alias (or the model) does not exist. */
  async getVersionByAlias(name: string, alias: string): Promise<ModelVersion | undefined> {
    try {
      return (await this.get<{model_version: ModelVersion}>('registered-models/alias', {name, alias}, `alias @${alias} of '${name}'`)).model_version
    } catch (error) {
      if (error instanceof MlflowError && (error.errorCode === 'RESOURCE_DOES_NOT_EXIST' || error.errorCode === 'INVALID_PARAMETER_VALUE') && /not found|does not exist|no model version/i.test(error.message)) return undefined
      throw error
    }
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.request(`delete alias @${alias}`, {method: 'DELETE', url: '/api/2.0/mlflow/registered-models/alias', data: {name, alias}})
  }

  async getRegisteredModel(name: string): Promise<{name: string; aliases?: {alias: string; version: string}[]; tags?: {key: string; value: string}[]} | undefined> {
    try {
      return (await this.get<{registered_model: {name: string; aliases?: {alias: string; version: string}[]}}>('registered-models/get', {name}, `registered model '${name}'`)).registered_model
    } catch (error) {
      if (error instanceof MlflowError && error.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined
      throw error
    }
  }

  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    await this.post('registered-models/set-tag', {name, key, value}, `tag ${key} on '${name}'`)
  }

  /** The download URI of a version's files (model-versions/get-download-uri). */
  async getDownloadUri(name: string, version: string): Promise<string> {
    return (await this.get<{artifact_uri: string}>('model-versions/get-download-uri', {name, version}, `download URI of '${name}' v${version}`)).artifact_uri
  }
}
