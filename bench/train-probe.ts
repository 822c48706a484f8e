import pl from 'nodejs-polars'

import {trainForest, loadForest, predictForest} from '../src/lib/model/forest.js'
import {toModelRows, timeSplit} from '../src/lib/model/dataset.js'
import {score} from '../src/lib/model/metrics.js'

const df = pl.readParquet('data/processed/dataset.parquet')
const summary = JSON.parse((await import('node:fs')).readFileSync('data/processed/dataset.json', 'utf8'))
const rows = toModelRows(df, summary.features, summary.target)
const split = timeSplit(rows, 14, 14, 6)
console.log('train', split.train.time.length, 'val', split.validation.time.length, 'hold', split.holdout.time.length)
for (const maxSamples of [Number(process.argv[2] ?? 1200)]) {
  const t = Date.now()
  const forest = await trainForest(split.train.X, split.train.y, {nEstimators: Number(process.argv[3] ?? 60), maxDepth: 12, minSamplesLeaf: 5, maxFeatures: 0.6, maxSamples, workers: 2, seed: 42})
  const secs = (Date.now() - t) / 1000
  const model = loadForest(forest)
  const pred = predictForest(model, split.holdout.X).map((d, i) => d + split.holdout.current[i]!)
  console.log({maxSamples, secs, model: score(split.holdout.actual, pred), persistence: score(split.holdout.actual, split.holdout.current), seasonal: score(split.holdout.actual, split.holdout.seasonal)})
}
