import {randomUUID} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readFile, rename, rm} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {stringify} from 'yaml'

import {RpsError} from '../errors.js'
import type {PsiReference} from '../drift/psi-reference.js'
import type {FeatureConfig} from '../features/config.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import type {FeatureStats} from './feature-stats.js'
import {flattenForest, predictFlat} from './flat-forest.js'
import type {ForestJson} from './forest-core.js'
import type {Scores} from './metrics.js'

export const MODEL_FORMAT = 'rps-forest/1'

/** model.json: everything needed to use and audit the model without the training code's memory. */
export interface ModelMeta {
  format: typeof MODEL_FORMAT
  name: string
  target: string
  horizonHours: number
  targetMode: 'delta' | 'level'
  features: string[]
  featureConfig: FeatureConfig
  trainingStats: Record<string, FeatureStats>
  /** Window PSI within the training rows: the data drift baseline (absent in older models). */
  psiReference?: PsiReference
  hyperparameters: Record<string, number | string>
  metrics: Record<string, Record<string, Scores>>
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
  /** Predictions of target(t+h) for rows of features (in meta.features order) whose current target is `current`. */
  predict(X: number[][], current: number[]): number[]
  /** One prediction from `meta.features.length` values of `x` starting at `offset`; allocates nothing (the server's path). */
  predictOne(x: ArrayLike<number>, current: number, offset?: number): number
}

/** Writes the model directory atomically: a temp folder renamed into place. */
export async function writeModelDir(dir: string, forest: ForestJson, meta: ModelMeta, runId?: string): Promise<void> {
  const tmp = join(dirname(dir), `.${dir.split('/').at(-1)}.${process.pid}.tmp`)
  await rm(tmp, {recursive: true, force: true})
  await mkdir(tmp, {recursive: true})
  await writeFileAtomic(join(tmp, 'forest.json'), JSON.stringify(forest))
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
      outputs: JSON.stringify([{type: 'double', name: `${meta.target}_t_plus_${meta.horizonHours}h`, required: true}]),
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
  try {
    return modelFromForest(dir, meta, forestJson)
  } catch (error) {
    throw new RpsError(`forest in ${dir} does not load: ${(error as Error).message}`, {code: 'MODEL_INVALID'})
  }
}

/** A usable model from its parts, without touching disk (training scores and the simulation use it). */
export function modelFromForest(dir: string, meta: ModelMeta, forestJson: ForestJson): LoadedModel {
  const width = meta.features.length
  // Flattened once here: every prediction (training scores, compare, drift, serve) walks the same arrays.
  const forest = flattenForest(forestJson, width)
  const delta = meta.targetMode === 'delta'
  const predictOne = (x: ArrayLike<number>, current: number, offset = 0) => {
    const raw = predictFlat(forest, x, offset)
    return delta ? current + raw : raw
  }
  return {
    dir,
    meta,
    predict(X, current) {
      for (const row of X) if (row.length !== width) throw new Error(`expected ${width} features, got ${row.length}`)
      return X.map((row, i) => predictOne(row, current[i]!))
    },
    predictOne,
  }
}
