import {join} from 'node:path'
import pl from 'nodejs-polars'

import {loadParams} from '../../src/lib/config/params.js'
import {featureConfig} from '../../src/lib/features/config.js'
import {readSummary, requireDataset} from '../../src/lib/features/dataset-store.js'
import type {DatasetSummary} from '../../src/lib/features/featurize.js'
import {forHorizon, toModelRows} from '../../src/lib/model/dataset.js'
import {computeFeatureStats} from '../../src/lib/model/feature-stats.js'
import {trainForest} from '../../src/lib/forest/forest.js'
import {absResiduals, calibrate} from '../../src/lib/stats/intervals.js'
import {MODEL_FORMAT, type ModelMeta, modelFromForest, writeModelDir} from '../../src/lib/model/model-dir.js'
import {rps, scratch} from './rps.js'

/** A scratch data dir with replay history featurized, and a small model trained on it with the real code. */
export async function replayModel(options: {at?: string; hours?: number; trees?: number; seed?: number} = {}) {
  const {dir, params} = await scratch()
  const env = {RPS_DATA_DIR: join(dir, 'data')}
  for (const args of [['fetch', '--source', 'replay', '--at', options.at ?? '2026-05-20T00:00:00Z', '--past-hours', String(options.hours ?? 600)], ['check', '--source', 'replay'], ['featurize', '--source', 'replay']]) {
    const run = await rps([...args, '--params', params], env)
    if (run.exitCode !== 0) throw new Error(`${args[0]} failed: ${run.stderr}`)
  }
  const published = await requireDataset(join(dir, 'data/processed'))
  const summary = await readSummary<DatasetSummary>(published)
  const df = pl.readParquet(published.dataset)
  const rows = toModelRows(df, summary.features, summary.target, summary.horizons, summary.horizonHours)
  const modelDir = join(dir, 'model')
  await writeTestModel(modelDir, rows, summary, params, options.trees ?? 8, options.seed ?? 1)
  return {dir, params, env, modelDir, rows, summary}
}

/** A small model of every horizon the rows carry (one forest each), its bands calibrated on the newest 48 rows. */
export async function writeTestModel(modelDir: string, rows: ReturnType<typeof toModelRows>, summary: DatasetSummary, paramsPath: string, trees: number, seed: number, name = 'rps-temperature') {
  const cfg = featureConfig(loadParams(paramsPath))
  const horizons = [...(rows.shorter?.keys() ?? []), summary.horizonHours].sort((a, b) => a - b)
  const fit = (h: number) => {
    const r = forHorizon(rows, h)
    return trainForest(r.X, r.y, {nEstimators: trees, maxDepth: 8, minSamplesLeaf: 3, maxFeatures: 0.6, maxSamples: 300, workers: 1, seed})
  }
  const forest = await fit(summary.horizonHours)
  const shorter = new Map(await Promise.all(horizons.filter((h) => h !== summary.horizonHours).map(async (h) => [h, await fit(h)] as const)))
  const empty = {rmse: 0, mae: 0, r2: 0, n: 0}
  const meta: ModelMeta = {
    format: MODEL_FORMAT, name, target: summary.target, horizonHours: summary.horizonHours, horizons, targetMode: summary.targetMode,
    features: summary.features, featureConfig: cfg, trainingStats: computeFeatureStats(summary.features, rows.X),
    hyperparameters: {trees, seed}, metrics: {holdout: {model: empty}}, split: {trainRows: rows.X.length, validationRows: 0, holdoutRows: 0, validationStart: '', holdoutStart: '', end: ''},
    dataVersion: summary.sha256.slice(0, 32), codeVersion: 'test', trainedAt: new Date().toISOString(), trainingSeconds: 0, rpsVersion: 'test',
  }
  const model = modelFromForest('', meta, forest, shorter)
  const newest = rows.X.length - 48
  meta.calibration = calibrate(new Map(horizons.map((h) => {
    const r = forHorizon(rows, h)
    return [h, absResiduals(model.predictHorizon(h, r.X.slice(newest), r.current.slice(newest)), r.actual.slice(newest))]
  })), [0.8, 0.95])
  await writeModelDir(modelDir, forest, meta, undefined, shorter)
}
