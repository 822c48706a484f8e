import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import type {Params} from '../config/params.js'
import {datasetLocation, openDataset} from '../features/dataset-store.js'
import {readHistory} from '../features/featurize.js'
import {MlflowClient} from '../mlflow/client.js'
import {loadModelDir} from '../model/model-dir.js'
import {ALIASES, loadAlias} from '../model/registry.js'
import {modelSection} from '../model/settings.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {type LiveErrors, liveErrorsPath} from '../live/live-errors.js'
import {type CoverageShortfall, coverageShortfall} from './coverage.js'
import {type DriftReport, type DriftSettings, detectDrift, driftSettings} from './detect.js'
import {logDriftRun} from './mlflow-log.js'
import type {RetrainDecision} from './page-hinkley.js'
import {type ObservedWindow, driftHtml, noChampionHtml, observedWindow} from './report.js'

/** What `rps drift` writes to drift.json: the assessment (absent without a champion), the decision taken and who asked. */
export interface DriftCheck extends Omit<DriftReport, 'model' | 'window' | 'overall' | 'modelAgeHours'> {
  model: DriftReport['model'] | null
  window: DriftReport['window'] | null
  overall: DriftReport['overall'] | null
  modelAgeHours: number | null
  /** The registry version examined (null for --model-dir or without a champion). */
  champion: {name: string; version: string} | null
  /** Without a champion: the observations the check would examine (window and chunks, per-variable mean/min/max). */
  observed?: ObservedWindow
  /** Who started the check: "schedule", "manual", "alert:<name>", ... (the DAG's run parameter triggered_by). */
  triggeredBy: string
  forced: boolean
  checkedAt: string
}

/**
 * The champion's live band shortfall from live-errors.json (rps forecast), or null when the file is
 * absent or unreadable: the live coverage is extra evidence, never a reason for the check to fail.
 */
export async function liveCoverage(env: NodeJS.ProcessEnv, version: string, settings: DriftSettings): Promise<CoverageShortfall | null> {
  let live: LiveErrors
  try {
    live = JSON.parse(await readFile(liveErrorsPath(env), 'utf8')) as LiveErrors
  } catch {
    return null
  }
  return coverageShortfall(live, version, settings)
}

export interface DriftCheckOptions {
  modelDir?: string
  outDir: string
  /** A retrain is due whatever the assessment says (run parameter retrain=always). */
  force?: boolean
  triggeredBy?: string
  env?: NodeJS.ProcessEnv
}

export interface DriftCheckResult extends DriftCheck {
  report: {json: string; html: string}
  mlflowRunId: string | null
}

export const NO_CHAMPION_REASON = 'no champion yet'

/** A forced retrain keeps the assessment's reason after its own: the record shows what the check saw too. */
export function forcedDecision(triggeredBy: string, assessed: RetrainDecision): RetrainDecision {
  const seen = `drift check: ${assessed.retrain ? 'retrain due' : 'no retrain due'} (${assessed.reason})`
  if (triggeredBy.startsWith('alert:')) {
    return {retrain: true, trigger: 'alert', reason: `alert ${triggeredBy.slice('alert:'.length) || '(unnamed)'} asked for a retrain; ${seen}`}
  }
  return {retrain: true, trigger: 'forced', reason: `retrain forced (triggered by ${triggeredBy}); ${seen}`}
}

function noChampionCheck(settings: DriftSettings, triggeredBy: string, force: boolean): DriftCheck {
  return {
    model: null, window: null, overall: null, chunks: [], psiThresholds: {}, dataDrift: false, conceptDrift: false, modelAgeHours: null,
    decision: {retrain: true, trigger: 'first_model', reason: NO_CHAMPION_REASON}, settings,
    champion: null, triggeredBy, forced: force, checkedAt: new Date().toISOString(),
  }
}

/**
 * Data end of the newest challenger when it is not the champion (a losing one): the cooldown counts
 * from it. Versions are numbered in registration order and every version after the champion lost
 * to it, so their count is the losing challengers in a row (the cooldown backs off with them).
 */
async function newerChallenger(client: MlflowClient, name: string, championVersion: string): Promise<{end: string | undefined; losses: number}> {
  const challenger = await client.getVersionByAlias(name, ALIASES.challenger)
  if (!challenger?.run_id || challenger.version === championVersion) return {end: undefined, losses: 0}
  const run = await client.getRun(challenger.run_id)
  const losses = Math.max(1, Number(challenger.version) - Number(championVersion))
  return {end: run.data.params?.find((p) => p.key === 'data.end')?.value, losses: Number.isFinite(losses) ? losses : 1}
}

/**
 * The drift gate: examines @champion (or a model directory), decides whether a retrain is due and
 * records the decision with its trigger and reason (drift.json, drift.html, an MLflow run when a
 * tracking server is configured). Without a champion a retrain is due (trigger first_model).
 */
export async function checkDrift(params: Params, options: DriftCheckOptions): Promise<DriftCheckResult> {
  const env = options.env ?? process.env
  const section = modelSection(params)
  const settings = driftSettings(params)
  const triggeredBy = options.triggeredBy?.trim() || 'manual'
  const force = options.force ?? false
  const client = env.MLFLOW_TRACKING_URI ? MlflowClient.fromEnv(env) : undefined
  const json = join(options.outDir, 'drift.json')
  const html = join(options.outDir, 'drift.html')
  let model
  let champion: DriftCheck['champion'] = null
  let lastTrainingEnd: string | undefined
  let losingChallengers = 0
  if (options.modelDir) model = await loadModelDir(options.modelDir)
  else {
    const registry = client ?? MlflowClient.fromEnv(env)
    const loaded = await loadAlias(registry, section.registered_name, ALIASES.champion)
    if (!loaded) {
      const {table} = await readHistory(await openDataset(datasetLocation(env)), params.variables)
      const check = {...noChampionCheck(settings, triggeredBy, force), observed: observedWindow(table, settings, params.variables)}
      await writeFileAtomic(json, JSON.stringify(check, null, 2) + '\n')
      await writeFileAtomic(html, noChampionHtml(section.registered_name, check.decision, settings, check.observed))
      return {...check, report: {json, html}, mlflowRunId: null}
    }
    model = loaded.model
    champion = {name: loaded.version.name, version: loaded.version.version}
    const newer = await newerChallenger(registry, section.registered_name, loaded.version.version)
    lastTrainingEnd = newer.end
    losingChallengers = newer.losses
  }
  const coverage = champion ? await liveCoverage(env, champion.version, settings) : null
  const report = await detectDrift(model, settings, env, lastTrainingEnd, losingChallengers, coverage)
  const check: DriftCheck = {
    ...report, decision: force ? forcedDecision(triggeredBy, report.decision) : report.decision,
    champion, triggeredBy, forced: force, checkedAt: new Date().toISOString(),
  }
  await writeFileAtomic(json, JSON.stringify(check, null, 2) + '\n')
  await writeFileAtomic(html, driftHtml({...report, decision: check.decision}))
  const mlflowRunId = client ? await logDriftRun(client, section.experiment, {...report, decision: check.decision}, {json, html}, {triggeredBy}) : null
  return {...check, report: {json, html}, mlflowRunId}
}
