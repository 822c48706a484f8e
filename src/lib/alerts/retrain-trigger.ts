import {readFile} from 'node:fs/promises'
import {basename, dirname, extname, join} from 'node:path'

import {ConfigError, errorMessage} from '../errors.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {type AirflowApi, AirflowClient, AirflowError, type DagRun} from './airflow-client.js'
import type {WebhookAlert} from './webhook-alert.js'

/** The DAG an alert with rps_action="retrain" runs, and the run conf it gets (DAG params). */
export const RETRAIN_DAG_ID = 'rps_pipeline'
export const ACTION_LABEL = 'rps_action'
export const RETRAIN_ACTION = 'retrain'
// A day: the 24 h live window still holds the previous model's errors for a day after a promotion.
export const DEFAULT_RETRAIN_COOLDOWN_SECONDS = 24 * 3600

/** What happened to one firing rps_action="retrain" alert; appended to its JSON line as `retrain`. */
export type RetrainDecision =
  | {action: 'triggered'; at: string; dagId: string; runId: string; logicalDate: string; conf: Record<string, unknown>; dagPaused: boolean}
  | {action: 'skipped'; at: string; dagId: string; reason: 'cooldown' | 'active_run'; detail: string}
  | {action: 'failed'; at: string; dagId: string; transient: boolean; error: string}

/** The dedupe state beside the alerts file: survives a sink restart. */
export interface RetrainState {
  version: 1
  dagId: string
  lastTriggered?: {at: string; runId: string; alertname: string; fingerprint?: string}
}

export function wantsRetrain(alert: WebhookAlert): boolean {
  return alert.status === 'firing' && alert.labels?.[ACTION_LABEL] === RETRAIN_ACTION
}

/** alerts.jsonl -> alerts.retrain-state.json in the same directory. */
export function retrainStatePath(alertsFile: string): string {
  const name = basename(alertsFile, extname(alertsFile)) || basename(alertsFile)
  return join(dirname(alertsFile), `${name}.retrain-state.json`)
}

/** Why not to trigger because of the cooldown after the last triggered run, or undefined. */
export function cooldownSkip(state: RetrainState | undefined, now: Date, cooldownMs: number): string | undefined {
  const last = state?.lastTriggered
  if (!last || cooldownMs <= 0) return undefined
  const at = Date.parse(last.at)
  if (Number.isNaN(at)) return undefined
  const until = at + cooldownMs
  if (now.getTime() >= until) return undefined
  return `run ${last.runId} was triggered at ${last.at} by ${last.alertname}; no new run before ${new Date(until).toISOString()} (cooldown ${cooldownMs / 1000} s)`
}

/** Why not to trigger because a run of the DAG is queued or running, or undefined. */
export function activeRunSkip(runs: DagRun[]): string | undefined {
  const run = runs.find((r) => r.state === 'queued' || r.state === 'running')
  if (!run) return undefined
  const others = runs.length > 1 ? ` (+${runs.length - 1} more)` : ''
  return `run ${run.dag_run_id} of ${run.dag_id} is ${run.state}${others}`
}

export function retrainConf(alertname: string): Record<string, unknown> {
  return {retrain: 'always', triggered_by: `alert:${alertname}`}
}

/** Our own run id: Airflow's allowed characters only, unique per alert and millisecond. */
export function retrainRunId(alertname: string, now: Date): string {
  const name = alertname.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 100) || 'alert'
  const stamp = now.toISOString().replace(/[-:]/g, '')
  return `rps_alert__${name}__${stamp}`
}

export async function readRetrainState(file: string, dagId: string, log: (line: string) => void): Promise<RetrainState | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log(`retrain: cannot read ${file}: ${errorMessage(error)}; deciding without the last trigger`)
    return undefined
  }
  try {
    const state = JSON.parse(text) as RetrainState
    if (state?.version !== 1 || typeof state.dagId !== 'string') throw new Error('not a version 1 retrain state')
    return state.dagId === dagId ? state : undefined
  } catch (error) {
    // Deciding without it can trigger once more; Airflow's own active-run check still holds.
    log(`retrain: ${file} is not a retrain state (${errorMessage(error)}); deciding without the last trigger`)
    return undefined
  }
}

export interface RetrainTriggerDeps {
  airflow: AirflowApi
  stateFile: string
  cooldownMs: number
  log: (line: string) => void
  dagId?: string
  now?: () => Date
}

/**
 * Turns firing rps_action="retrain" alerts into at most one DAG run: none while a run of the DAG is
 * queued or running, none within the cooldown after the last one triggered here. Decisions are
 * serialized across requests (Alertmanager can deliver several groups at once), and the last
 * trigger is kept in a JSON file so a restarted sink does not trigger again.
 */
export class RetrainTrigger {
  readonly dagId: string
  readonly stateFile: string
  readonly airflowUrl: string
  private readonly deps: RetrainTriggerDeps
  private queue: Promise<unknown> = Promise.resolve()

  constructor(deps: RetrainTriggerDeps) {
    this.deps = deps
    this.dagId = deps.dagId ?? RETRAIN_DAG_ID
    this.stateFile = deps.stateFile
    this.airflowUrl = deps.airflow.url
  }

  /** The decision for one alert; undefined when the alert asks for no retraining. */
  handle(alert: WebhookAlert): Promise<RetrainDecision | undefined> {
    if (!wantsRetrain(alert)) return Promise.resolve(undefined)
    const next = this.queue.then(() => this.decide(alert))
    this.queue = next.catch(() => undefined)
    return next
  }

  private async decide(alert: WebhookAlert): Promise<RetrainDecision> {
    const {airflow, log, stateFile, cooldownMs} = this.deps
    const now = (this.deps.now ?? (() => new Date()))()
    const at = now.toISOString()
    const dagId = this.dagId
    const alertname = alert.labels?.alertname ?? 'unnamed'
    const skip = (reason: 'cooldown' | 'active_run', detail: string): RetrainDecision => {
      log(`retrain: skipped for ${alertname}: ${reason}: ${detail}`)
      return {action: 'skipped', at, dagId, reason, detail}
    }

    const state = await readRetrainState(stateFile, dagId, log)
    const cooling = cooldownSkip(state, now, cooldownMs)
    if (cooling) return skip('cooldown', cooling)
    try {
      const dag = await airflow.dag(dagId)
      const active = activeRunSkip(await airflow.activeRuns(dagId))
      if (active) return skip('active_run', active)
      const runId = retrainRunId(alertname, now)
      const conf = retrainConf(alertname)
      const note = `Triggered by the alert ${alertname}${alert.fingerprint ? ` (fingerprint ${alert.fingerprint})` : ''} through rps alerts-sink.`
      const run = await airflow.trigger(dagId, {runId, logicalDate: now, conf, note})
      const paused = dag.is_paused ? `; ${dagId} is paused: the run stays queued until it is unpaused` : ''
      log(`retrain: triggered ${dagId} run ${run.dag_run_id} for ${alertname} (conf ${JSON.stringify(conf)})${paused}`)
      const next: RetrainState = {version: 1, dagId, lastTriggered: {at, runId: run.dag_run_id, alertname, ...(alert.fingerprint ? {fingerprint: alert.fingerprint} : {})}}
      await writeFileAtomic(stateFile, JSON.stringify(next, null, 2) + '\n').catch((error: Error) => {
        log(`retrain: could not save ${stateFile}: ${error.message}; a restarted sink may trigger again before the cooldown ends`)
      })
      return {action: 'triggered', at, dagId, runId: run.dag_run_id, logicalDate: run.logical_date ?? now.toISOString(), conf, dagPaused: dag.is_paused}
    } catch (error) {
      const transient = error instanceof AirflowError ? error.transient : true
      const message = errorMessage(error)
      log(`retrain: FAILED for ${alertname}: ${message}; ${transient ? 'answering 503 so Alertmanager retries' : 'not retried before the alert is sent again (fix the cause)'}`)
      return {action: 'failed', at, dagId, transient, error: message}
    }
  }
}

export interface RetrainOptions {
  /** RPS_AIRFLOW_URL; without it the sink only records alerts, as before. */
  airflowUrl?: string
  username?: string
  password?: string
  cooldownSeconds: number
  alertsFile: string
  log: (line: string) => void
}

/** The sink's onFiring hook for the given settings, or undefined when Airflow is not configured. */
export function retrainHook(options: RetrainOptions): RetrainTrigger | undefined {
  if (!options.airflowUrl) return undefined
  let url: URL
  try {
    url = new URL(options.airflowUrl)
  } catch {
    throw new ConfigError(`RPS_AIRFLOW_URL is not a URL: ${options.airflowUrl}`, ['e.g. http://127.0.0.1:8080 (the Airflow api-server, scripts/airflow.sh)'])
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`RPS_AIRFLOW_URL must be http(s): ${options.airflowUrl}`)
  if (Boolean(options.username) !== Boolean(options.password)) {
    throw new ConfigError('set both RPS_AIRFLOW_USERNAME and RPS_AIRFLOW_PASSWORD, or neither (an Airflow whose simple auth manager makes everyone admin)')
  }
  const airflow = new AirflowClient({url: options.airflowUrl, username: options.username, password: options.password})
  return new RetrainTrigger({airflow, stateFile: retrainStatePath(options.alertsFile), cooldownMs: options.cooldownSeconds * 1000, log: options.log})
}
