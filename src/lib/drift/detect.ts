import type {Params} from '../config/params.js'
import {RpsError} from '../errors.js'
import {rowsFor} from '../model/compare.js'
import {type ModelRows, selectRows} from '../model/dataset.js'
import {type LoadedModel, referenceMae} from '../model/model-dir.js'
import {type CoverageSettings, type CoverageShortfall, describeShortfall} from './coverage.js'
import {type RetrainDecision, PageHinkley, decideRetrain} from './page-hinkley.js'
import {psi} from '../stats/psi.js'
import {psiThreshold} from '../model/psi-reference.js'

const HOUR_MS = 3_600_000

export interface DriftSettings extends CoverageSettings {
  window_hours: number
  chunk_hours: number
  psi_threshold: number
  error_ratio_threshold: number
  page_hinkley: {delta: number; lambda: number}
  k: number
  n: number
  cooldown_hours: number
  max_model_age_days: number
  /** Window PSI above psi_threshold alone makes a retrain due (default false). */
  data_drift_retrain?: boolean
  /** Cooldown multiplier per further losing challenger in a row (default 1: no back-off). */
  backoff_factor?: number
}

export interface ChunkReport {
  start: string
  end: string
  rows: number
  mae: number
  errorRatio: number
  pageHinkleyAlarm: boolean
  psi: Record<string, number>
  maxPsi: {feature: string; value: number}
  flagged: boolean
  why: string[]
}

export interface DriftReport {
  model: {name: string; dataEnd: string; validationMae: number}
  window: {start: string; end: string; rows: number}
  overall: {psi: Record<string, number>; mae: number; errorRatio: number}
  /** Per variable: the window PSI counted as data drift, max(psi_threshold, the worst training window). */
  psiThresholds: Record<string, number>
  chunks: ChunkReport[]
  dataDrift: boolean
  conceptDrift: boolean
  /** The served version's worst live band, when it covers more than coverage_drop below its level (rps drift only). */
  coverage?: CoverageShortfall | null
  modelAgeHours: number
  decision: RetrainDecision
  settings: DriftSettings
}

export function driftSettings(params: Params): DriftSettings {
  if (!params.drift) throw new RpsError('params.yaml has no drift section', {code: 'CONFIG'})
  return params.drift as DriftSettings
}

/** PSI of each monitored variable (its current value) against the training deciles stored with the model. */
function psiByVariable(model: LoadedModel, rows: ModelRows): Record<string, number> {
  const out: Record<string, number> = {}
  for (const variable of model.meta.featureConfig.variables) {
    const j = model.meta.features.indexOf(variable)
    const stats = model.meta.trainingStats[variable]
    if (j < 0 || !stats) continue
    out[variable] = psi(stats.deciles, rows.X.map((r) => r[j]!)).psi
  }
  return out
}

function mae(actual: number[], predicted: number[]): number {
  return actual.reduce((a, v, i) => a + Math.abs(predicted[i]! - v), 0) / Math.max(1, actual.length)
}

/**
 * Examines the newest `window_hours` rows that have ground truth: data drift (PSI per variable
 * against the training reference) and concept drift (chunk MAE vs validation MAE, Page-Hinkley on
 * normalized absolute errors). Each chunk is flagged or not; the retrain decision applies k-of-n
 * hysteresis, a cooldown and a maximum model age, all measured on the data clock.
 */
export async function detectDrift(model: LoadedModel, settings: DriftSettings, env: NodeJS.ProcessEnv, lastTrainingEnd?: string, losingChallengers = 0, coverage: CoverageShortfall | null = null): Promise<DriftReport> {
  return assessDrift(model, await rowsFor(model, env), settings, lastTrainingEnd, losingChallengers, coverage)
}

/**
 * The drift assessment itself, on rows already built with the model's features (oldest first,
 * ground truth known). `rps drift` and `rps simulate` both decide with it.
 */
export function assessDrift(model: LoadedModel, all: ModelRows, settings: DriftSettings, lastTrainingEnd?: string, losingChallengers = 0, coverage: CoverageShortfall | null = null): DriftReport {
  if (all.time.length === 0) throw new RpsError('no rows with ground truth to examine', {code: 'NO_DATA'})
  const end = all.time.at(-1)! + HOUR_MS
  const start = end - settings.window_hours * HOUR_MS
  const window = selectRows(all, (t) => t >= start)
  const validationMae = referenceMae(model.meta)
  if (!validationMae) throw new RpsError('the model has no validation MAE to compare errors with', {code: 'MODEL_INVALID'})
  const predicted = model.predict(window.X, window.current)
  const detector = new PageHinkley(settings.page_hinkley.delta, settings.page_hinkley.lambda)
  const alarms = window.time.map((_, i) => detector.update(Math.abs(predicted[i]! - window.actual[i]!) / validationMae))
  const chunks: ChunkReport[] = []
  for (let c = start; c < end; c += settings.chunk_hours * HOUR_MS) {
    const inChunk = (t: number) => t >= c && t < c + settings.chunk_hours * HOUR_MS
    const rows = selectRows(window, inChunk)
    if (rows.time.length === 0) continue
    const idx = window.time.map((t, i) => (inChunk(t) ? i : -1)).filter((i) => i >= 0)
    const chunkMae = mae(rows.actual, idx.map((i) => predicted[i]!))
    const chunkPsi = psiByVariable(model, rows)
    const [feature, value] = Object.entries(chunkPsi).sort((a, b) => b[1] - a[1])[0] ?? ['', 0]
    // Chunks are flagged on the error signals only: a day of weather is too few rows for a stable
    // PSI (24 values in 10 bins), so data drift is judged on the whole window instead.
    const why: string[] = []
    const errorRatio = chunkMae / validationMae
    if (errorRatio > settings.error_ratio_threshold) why.push(`MAE ${chunkMae.toFixed(2)} is ${errorRatio.toFixed(2)}x validation`)
    const alarm = idx.some((i) => alarms[i])
    if (alarm) why.push('Page-Hinkley alarm on errors')
    chunks.push({
      start: new Date(c).toISOString(), end: new Date(c + settings.chunk_hours * HOUR_MS).toISOString(), rows: rows.time.length,
      mae: chunkMae, errorRatio, pageHinkleyAlarm: alarm, psi: chunkPsi, maxPsi: {feature, value}, flagged: why.length > 0, why,
    })
  }
  const overallPsi = psiByVariable(model, window)
  const psiThresholds = Object.fromEntries(Object.keys(overallPsi).map((v) => [v, psiThreshold(model.meta.psiReference, v, settings.psi_threshold)]))
  const overallMae = mae(window.actual, predicted)
  const modelAgeHours = (end - Date.parse(model.meta.split.end)) / HOUR_MS
  // Hysteresis counts only chunks the model served after its data ended: right after a retrain the
  // window is the new model's own holdout, already judged by the compare gate.
  const dataEnd = Date.parse(model.meta.split.end)
  const live = chunks.filter((c) => Date.parse(c.start) >= dataEnd)
  const decision = decideRetrain(live.map((c) => c.flagged), modelAgeHours, {
    k: settings.k, n: settings.n, cooldownHours: settings.cooldown_hours, maxModelAgeHours: settings.max_model_age_days * 24,
    psiThreshold: psiThresholds, dataDriftRetrains: settings.data_drift_retrain ?? false,
    losingChallengers, backoffFactor: settings.backoff_factor ?? 1,
  }, lastTrainingEnd && Date.parse(lastTrainingEnd) > dataEnd ? (end - Date.parse(lastTrainingEnd)) / HOUR_MS : modelAgeHours,
  {windows: live, psi: overallPsi, ...(coverage ? {coverage: describeShortfall(coverage, settings.coverage_drop)} : {})})
  return {
    model: {name: model.meta.name, dataEnd: model.meta.split.end, validationMae},
    window: {start: new Date(start).toISOString(), end: new Date(end).toISOString(), rows: window.time.length},
    overall: {psi: overallPsi, mae: overallMae, errorRatio: overallMae / validationMae},
    chunks,
    psiThresholds,
    dataDrift: Object.entries(overallPsi).some(([v, value]) => value > psiThresholds[v]!),
    conceptDrift: overallMae / validationMae > settings.error_ratio_threshold || alarms.some(Boolean) || coverage !== null,
    coverage,
    modelAgeHours,
    decision,
    settings,
  }
}
