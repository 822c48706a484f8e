import {join} from 'node:path'
import pl from 'nodejs-polars'

import {loadParams} from '../../src/lib/config/params.js'
import {featureConfig} from '../../src/lib/features/config.js'
import {readSummary, requireDataset} from '../../src/lib/features/dataset-store.js'
import type {DatasetSummary} from '../../src/lib/features/featurize.js'
import {toModelRows} from '../../src/lib/model/dataset.js'
import {computeFeatureStats} from '../../src/lib/model/feature-stats.js'
import {trainForest} from '../../src/lib/model/forest.js'
import {MODEL_FORMAT, writeModelDir} from '../../src/lib/model/model-dir.js'
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
  const rows = toModelRows(df, summary.features, summary.target)
  const modelDir = join(dir, 'model')
  await writeTestModel(modelDir, rows, summary, params, options.trees ?? 8, options.seed ?? 1)
  return {dir, params, env, modelDir, rows, summary}
}

export async function writeTestModel(modelDir: string, rows: ReturnType<typeof toModelRows>, summary: DatasetSummary, paramsPath: string, trees: number, seed: number, name = 'rps-temperature') {
  const cfg = featureConfig(loadParams(paramsPath))
  const forest = await trainForest(rows.X, rows.y, {nEstimators: trees, maxDepth: 8, minSamplesLeaf: 3, maxFeatures: 0.6, maxSamples: 300, workers: 1, seed})
  const empty = {rmse: 0, mae: 0, r2: 0, n: 0}
  await writeModelDir(modelDir, forest, {
    format: MODEL_FORMAT, name, target: summary.target, horizonHours: summary.horizonHours, targetMode: summary.targetMode,
    features: summary.features, featureConfig: cfg, trainingStats: computeFeatureStats(summary.features, rows.X),
    hyperparameters: {trees, seed}, metrics: {holdout: {model: empty}}, split: {trainRows: rows.X.length, validationRows: 0, holdoutRows: 0, validationStart: '', holdoutStart: '', end: ''},
    dataVersion: summary.sha256.slice(0, 32), codeVersion: 'test', trainedAt: new Date().toISOString(), trainingSeconds: 0, rpsVersion: 'test',
  })
}
