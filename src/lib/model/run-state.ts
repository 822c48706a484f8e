import {hostname} from 'node:os'

import {ConfigError} from '../errors.js'
import {type MlflowClient, MlflowError, type Run} from '../mlflow/client.js'

/** Tags naming the process that owns a run, so a later `rps train` can tell a dead run from a live one. */
export const OWNER_TAGS = {host: 'rps.host', pid: 'rps.pid'} as const
/** Set on a run `rps train` closed because its process was gone. */
export const CLOSED_TAG = 'rps.closed_reason'
/** A RUNNING run from another machine, or without owner tags, is stale after this long (training takes minutes). */
export const STALE_AFTER_MS = 6 * 3_600_000
const DEFAULT_PATIENCE_S = 120

export function ownerTags(): Record<string, string> {
  return {[OWNER_TAGS.host]: hostname(), [OWNER_TAGS.pid]: String(process.pid)}
}

/** How long a failing `rps train` waits for MLflow to answer again to close its run (RPS_MLFLOW_PATIENCE_S, default 120). */
export function mlflowPatienceMs(env: NodeJS.ProcessEnv): number {
  const raw = env.RPS_MLFLOW_PATIENCE_S
  if (raw === undefined || raw === '') return DEFAULT_PATIENCE_S * 1000
  const s = Number(raw)
  if (!(s >= 0)) throw new ConfigError(`RPS_MLFLOW_PATIENCE_S must be a number of seconds >= 0, got '${raw}'`)
  return s * 1000
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Why a RUNNING run is stale, or undefined when its process may still be working on it. */
export function staleReason(run: Run, now: number, host = hostname()): string | undefined {
  const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]))
  const pid = Number(tags[OWNER_TAGS.pid])
  if (tags[OWNER_TAGS.host] === host && Number.isInteger(pid) && pid > 0) {
    if (pid === process.pid) return undefined
    return alive(pid) ? undefined : `its process (pid ${pid} on ${host}) is gone`
  }
  const age = now - Number(run.info.start_time ?? now)
  if (age > STALE_AFTER_MS) return `still RUNNING ${(age / 3_600_000).toFixed(1)} h after it started (${tags[OWNER_TAGS.host] ? `on ${tags[OWNER_TAGS.host]}` : 'no owner recorded'})`
  return undefined
}

/**
 * Marks FAILED every RUNNING run of the experiment whose process is gone: a run that could not be
 * closed because MLflow was away while its process ended (killed, or out of patience).
 */
export async function closeStaleRuns(client: MlflowClient, experimentId: string, now = Date.now()): Promise<{runId: string; reason: string}[]> {
  const closed: {runId: string; reason: string}[] = []
  for (const run of await client.searchRuns([experimentId], 'RUNNING')) {
    const reason = staleReason(run, now)
    if (!reason) continue
    try {
      await client.setTag(run.info.run_id, CLOSED_TAG, `closed FAILED by rps train: ${reason}`)
      await client.terminateRun(run.info.run_id, 'FAILED')
      closed.push({runId: run.info.run_id, reason})
    } catch (error) {
      // a run MLflow will not let us close (deleted meanwhile, no permission) must not block training
      if (!(error instanceof MlflowError)) throw error
    }
  }
  return closed
}
