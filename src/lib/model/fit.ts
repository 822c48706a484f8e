import type {FeatureConfig} from '../features/config.js'
import {psiReference} from './psi-reference.js'
import {RpsError} from '../errors.js'
import {horizonsOf} from '../features/config.js'
import {type ModelRows, type TimeSplit, forHorizon, timeSplit} from './dataset.js'
import {computeFeatureStats} from './feature-stats.js'
import {type ForestJson, recencyWeights} from '../forest/forest-core.js'
import {type ForestParams, trainForests} from '../forest/forest.js'
import {absResiduals, calibrate} from '../stats/intervals.js'
import {type Scores, score, skill} from './metrics.js'
import {type LoadedModel, MODEL_FORMAT, type ModelMeta, type ShorterForests, modelFromForest} from './model-dir.js'
import {type ModelSection, forestParams as toForestParams} from './settings.js'

/** Fewest training rows a model is fitted on. */
export const MIN_TRAIN_ROWS = 100

export interface FitInput {
  rows: ModelRows
  features: string[]
  featureConfig: FeatureConfig
  section: ModelSection
  /** Provenance written into the model's metadata. */
  provenance: {dataVersion: string; codeVersion: string; rpsVersion: string}
  onTree?: (done: number, total: number) => void
  /** The drift window (params.yaml drift.window_hours): the training data's own window PSI is measured at it. */
  driftWindowHours?: number
  /** Prediction interval levels (default 0.8 and 0.95). */
  intervalLevels?: number[]
}

export interface FitResult {
  /** The longest horizon's forest (forest.json). */
  forest: ForestJson
  /** The other horizons' forests. */
  shorter: ShorterForests
  meta: ModelMeta
  model: LoadedModel
  split: TimeSplit
  holdoutPred: number[]
  /** Holdout RMSE skill against the better of persistence and seasonal-naive. */
  holdoutSkill: number
}

/** Model, persistence and seasonal scores of one split, on the same rows. */
export function scoreSplit(rows: ModelRows, predicted: number[]): Record<string, Scores> {
  return {
    model: score(rows.actual, predicted),
    persistence: score(rows.actual, rows.current),
    seasonal: score(rows.actual, rows.seasonal),
  }
}

export function checkEnoughHistory(split: TimeSplit, section: ModelSection): void {
  if (split.train.time.length < MIN_TRAIN_ROWS || (section.validation_days > 0 && split.validation.time.length === 0) || split.holdout.time.length === 0) {
    throw new RpsError(`not enough history to train: ${split.train.time.length} training, ${split.validation.time.length} validation, ${split.holdout.time.length} holdout rows (need >= ${MIN_TRAIN_ROWS} training rows beyond ${section.validation_days + section.holdout_days} days)`, {
      code: 'NOT_ENOUGH_DATA', suggestions: ['fetch more history, e.g. rps fetch --backfill-days 90'],
    })
  }
}

/**
 * The training step itself, free of I/O: time-ordered split (optionally a sliding training window),
 * recency-weighted bootstrap when configured, the forest, and its scores on validation and
 * holdout computed through the same predict function serving uses. `rps train` and
 * `rps simulate` both fit models with it.
 */
export async function fitModel(input: FitInput): Promise<FitResult> {
  const {rows, section, featureConfig: cfg} = input
  if (rows.time.length === 0) throw new RpsError('no labelled rows to train on', {code: 'NOT_ENOUGH_DATA'})
  const split = timeSplit(rows, section.holdout_days, section.validation_days, cfg.horizonHours, section.train_window_days ?? 0)
  checkEnoughHistory(split, section)
  const params: ForestParams = toForestParams(section)
  const weights = recencyWeights(split.train.time, section.recency_half_life_days ?? 0)
  const trainingStats = computeFeatureStats(input.features, split.train.X)
  const horizons = horizonsOf(cfg)
  const total = params.nEstimators * horizons.length
  const started = Date.now()
  // Direct strategy: one forest per horizon, each on its own label, the same rows and features.
  const shorterHorizons = horizons.filter((x) => x !== cfg.horizonHours)
  const missing = shorterHorizons.filter((h) => !split.train.shorter?.has(h))
  if (missing.length) throw new RpsError(`the rows carry no +${missing.join(', +')} h labels (built for other horizons than the configuration's ${horizons.join(', ')})`, {code: 'DATASET_STALE', suggestions: ['run: rps featurize']})
  const labels = [split.train.y, ...shorterHorizons.map((h) => forHorizon(split.train, h).y)]
  const forests = await trainForests(split.train.X, labels, params, (done) => input.onTree?.(done, total), weights)
  const forest = forests[0]!
  const shorter: ShorterForests = new Map(shorterHorizons.map((h, k) => [h, forests[k + 1]!]))
  const trainingSeconds = (Date.now() - started) / 1000
  const meta: ModelMeta = {
    format: MODEL_FORMAT,
    name: section.registered_name,
    target: cfg.target,
    horizonHours: cfg.horizonHours,
    horizons,
    targetMode: cfg.targetMode,
    features: input.features,
    featureConfig: cfg,
    trainingStats,
    psiReference: psiReference(input.features, cfg.variables, split.train.X, trainingStats, input.driftWindowHours ?? 168),
    hyperparameters: {...params, trainWindowDays: section.train_window_days ?? 0, recencyHalfLifeDays: section.recency_half_life_days ?? 0},
    metrics: {},
    split: {trainRows: split.train.time.length, validationRows: split.validation.time.length, holdoutRows: split.holdout.time.length, ...split.boundaries},
    dataVersion: input.provenance.dataVersion,
    codeVersion: input.provenance.codeVersion,
    trainedAt: new Date().toISOString(),
    trainingSeconds,
    rpsVersion: input.provenance.rpsVersion,
  }
  const model = modelFromForest('', meta, forest, shorter)
  const validationPred = split.validation.time.length ? model.predict(split.validation.X, split.validation.current) : []
  const holdoutPred = model.predict(split.holdout.X, split.holdout.current)
  meta.metrics = {
    ...(split.validation.time.length ? {validation: scoreSplit(split.validation, validationPred)} : {}),
    holdout: scoreSplit(split.holdout, holdoutPred),
  }
  const residuals = new Map<number, number[]>()
  meta.metricsByHorizon = {}
  for (const h of horizons) {
    const rowsH = forHorizon(split.holdout, h)
    const predH = h === cfg.horizonHours ? holdoutPred : model.predictHorizon(h, rowsH.X, rowsH.current)
    meta.metricsByHorizon[String(h)] = scoreSplit(rowsH, predH)
    residuals.set(h, absResiduals(predH, rowsH.actual))
  }
  meta.calibration = calibrate(residuals, input.intervalLevels ?? [0.8, 0.95])
  const holdout = meta.metrics.holdout!
  const best = holdout.persistence!.rmse <= holdout.seasonal!.rmse ? holdout.persistence! : holdout.seasonal!
  return {forest, shorter, meta, model, split, holdoutPred, holdoutSkill: skill(holdout.model!, best)}
}
