import {randomUUID} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readFile, rename, rm} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {stringify} from 'yaml'

import {RpsError} from '../errors.js'
import type {PsiReference} from './psi-reference.js'
import type {FeatureConfig} from '../features/config.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import type {FeatureStats} from './feature-stats.js'
import {flattenForest, predictFlat} from '../forest/flat-forest.js'
import type {ForestJson} from '../forest/forest-core.js'
import type {Calibration} from '../stats/intervals.js'
import type {Scores} from './metrics.js'

export const MODEL_FORMAT = 'rps-forest/1'

/** model.json: everything needed to use and audit the model without the training code's memory. */
export interface ModelMeta {
  format: typeof MODEL_FORMAT
  name: string
  target: string
  /** The longest horizon: forest.json's, and the one `metrics` scores. */
  horizonHours: number
  /** Every horizon, ascending (absent in single-horizon models: [horizonHours]); forest-h<h>.json for the shorter ones. */
  horizons?: number[]
  targetMode: 'delta' | 'level'
  features: string[]
  featureConfig: FeatureConfig
  trainingStats: Record<string, FeatureStats>
  /** Window PSI within the training rows: the data drift baseline (absent in older models). */
  psiReference?: PsiReference
  hyperparameters: Record<string, number | string>
  metrics: Record<string, Record<string, Scores>>
  /** Holdout scores of every horizon (model, persistence, seasonal), keyed by the horizon in hours. */
  metricsByHorizon?: Record<string, Record<string, Scores>>
  /** The prediction intervals (absent in older models: no bands). */
  calibration?: Calibration
  split: {trainRows: number; validationRows: number; holdoutRows: number; validationStart: string; holdoutStart: string; end: string}
  dataVersion: string
  codeVersion: string
  trainedAt: string
  trainingSeconds: number
  rpsVersion: string
}

/**
 * The error level drift is judged against: the validation MAE, or with no validation split
 * (validation_days 0) the holdout MAE — both measured on rows the model never trained on.
 */
export function referenceMae(meta: ModelMeta): number | undefined {
  return meta.metrics.validation?.model?.mae ?? meta.metrics.holdout?.model?.mae
}

export interface LoadedModel {
  dir: string
  meta: ModelMeta
  /** Every horizon, ascending; the last is meta.horizonHours. */
  horizons: number[]
  /** Predictions of target(t+h) at the longest horizon for rows of features (in meta.features order) whose current target is `current`. */
  predict(X: number[][], current: number[]): number[]
  /** The same at horizon h (one of `horizons`). */
  predictHorizon(h: number, X: number[][], current: number[]): number[]
  /** One prediction at the longest horizon from `meta.features.length` values of `x` starting at `offset`; allocates nothing (the server's path). */
  predictOne(x: ArrayLike<number>, current: number, offset?: number): number
  /** One prediction at horizon h (one of `horizons`). */
  predictOneAt(h: number, x: ArrayLike<number>, current: number, offset?: number): number
}

/** The forests of the horizons shorter than the longest, keyed by horizon (hours). */
export type ShorterForests = Map<number, ForestJson>

/** The file a horizon's forest is stored in: forest.json for the longest (what single-horizon readers load). */
export function forestFile(meta: Pick<ModelMeta, 'horizonHours'>, h: number): string {
  return h === meta.horizonHours ? 'forest.json' : `forest-h${h}.json`
}

/** The horizons of a model, ascending (older models: the one). */
export function modelHorizons(meta: Pick<ModelMeta, 'horizonHours' | 'horizons'>): number[] {
  return meta.horizons?.length ? meta.horizons : [meta.horizonHours]
}

/** Writes the model directory atomically: a temp folder renamed into place. */
export async function writeModelDir(dir: string, forest: ForestJson, meta: ModelMeta, runId?: string, shorter: ShorterForests = new Map()): Promise<void> {
  const tmp = join(dirname(dir), `.${dir.split('/').at(-1)}.${process.pid}.tmp`)
  await rm(tmp, {recursive: true, force: true})
  await mkdir(tmp, {recursive: true})
  await writeFileAtomic(join(tmp, 'forest.json'), JSON.stringify(forest))
  for (const h of modelHorizons(meta)) {
    if (h === meta.horizonHours) continue
    const f = shorter.get(h)
    if (!f) throw new Error(`no forest for horizon ${h} h`)
    await writeFileAtomic(join(tmp, forestFile(meta, h)), JSON.stringify(f))
  }
  await writeFileAtomic(join(tmp, 'features.json'), JSON.stringify(meta.features, null, 2) + '\n')
  await writeFileAtomic(join(tmp, 'model.json'), JSON.stringify(meta, null, 2) + '\n')
  const mlmodel = {
    artifact_path: 'model',
    flavors: {
      rps_forest: {
        format: MODEL_FORMAT, library: 'ml-random-forest (RandomForestRegression JSON)', forest: 'forest.json',
        features: 'features.json', meta: 'model.json', loader: 'rps serve --model-dir <dir>',
      },
    },
    model_uuid: randomUUID().replaceAll('-', ''),
    ...(runId ? {run_id: runId} : {}),
    utc_time_created: meta.trainedAt.replace('T', ' ').replace('Z', ''),
    signature: {
      inputs: JSON.stringify(meta.features.map((name) => ({type: 'double', name, required: true}))),
      outputs: JSON.stringify(modelHorizons(meta).map((h) => ({type: 'double', name: `${meta.target}_t_plus_${h}h`, required: true}))),
    },
  }
  await writeFileAtomic(join(tmp, 'MLmodel'), stringify(mlmodel))
  await rm(dir, {recursive: true, force: true})
  await mkdir(dirname(dir), {recursive: true})
  await rename(tmp, dir)
}

export async function loadModelDir(dir: string): Promise<LoadedModel> {
  for (const f of ['forest.json', 'model.json', 'MLmodel']) {
    if (!existsSync(join(dir, f))) throw new RpsError(`${dir} is not an rps model directory (no ${f})`, {code: 'MODEL_INVALID'})
  }
  let meta: ModelMeta
  let forestJson: ForestJson
  try {
    meta = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelMeta
    forestJson = JSON.parse(await readFile(join(dir, 'forest.json'), 'utf8')) as ForestJson
  } catch (error) {
    throw new RpsError(`model in ${dir} is unreadable: ${(error as Error).message}`, {code: 'MODEL_INVALID'})
  }
  if (meta.format !== MODEL_FORMAT) throw new RpsError(`model in ${dir} has format ${String(meta.format)}, expected ${MODEL_FORMAT}`, {code: 'MODEL_INVALID'})
  const shorter: ShorterForests = new Map()
  for (const h of modelHorizons(meta)) {
    if (h === meta.horizonHours) continue
    const file = forestFile(meta, h)
    if (!existsSync(join(dir, file))) throw new RpsError(`${dir} is not an rps model directory (no ${file})`, {code: 'MODEL_INVALID'})
    try {
      shorter.set(h, JSON.parse(await readFile(join(dir, file), 'utf8')) as ForestJson)
    } catch (error) {
      throw new RpsError(`model in ${dir} is unreadable: ${(error as Error).message}`, {code: 'MODEL_INVALID'})
    }
  }
  try {
    return modelFromForest(dir, meta, forestJson, shorter)
  } catch (error) {
    throw new RpsError(`forest in ${dir} does not load: ${(error as Error).message}`, {code: 'MODEL_INVALID'})
  }
}

/** A usable model from its parts, without touching disk (training scores and the simulation use it). */
export function modelFromForest(dir: string, meta: ModelMeta, forestJson: ForestJson, shorter: ShorterForests = new Map()): LoadedModel {
  const width = meta.features.length
  const horizons = modelHorizons(meta)
  // Flattened once here: every prediction (training scores, compare, drift, serve) walks the same arrays.
  const forests = new Map(horizons.map((h) => {
    const json = h === meta.horizonHours ? forestJson : shorter.get(h)
    if (!json) throw new Error(`no forest for horizon ${h} h`)
    return [h, flattenForest(json, width)]
  }))
  const longest = forests.get(meta.horizonHours)!
  const delta = meta.targetMode === 'delta'
  const predictOne = (x: ArrayLike<number>, current: number, offset = 0) => {
    const raw = predictFlat(longest, x, offset)
    return delta ? current + raw : raw
  }
  const forestOf = (h: number) => {
    const forest = forests.get(h)
    if (!forest) throw new Error(`the model forecasts ${horizons.join(', ')} h ahead, not ${h} h`)
    return forest
  }
  const predictOneAt = (h: number, x: ArrayLike<number>, current: number, offset = 0) => {
    const raw = predictFlat(forestOf(h), x, offset)
    return delta ? current + raw : raw
  }
  const predictHorizon = (h: number, X: number[][], current: number[]) => {
    forestOf(h)
    for (const row of X) if (row.length !== width) throw new Error(`expected ${width} features, got ${row.length}`)
    return X.map((row, i) => predictOneAt(h, row, current[i]!))
  }
  return {
    dir,
    meta,
    horizons,
    predict: (X, current) => predictHorizon(meta.horizonHours, X, current),
    predictHorizon,
    predictOne,
    predictOneAt,
  }
}
