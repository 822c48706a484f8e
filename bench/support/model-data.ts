import pl from 'nodejs-polars'

import type {ForestParams} from '../../src/lib/model/forest.js'
import type {ModelRows} from '../../src/lib/model/dataset.js'
import type {Params} from '../../src/lib/config/params.js'

/** params.yaml's model section (the fields rps train reads; src/lib/model/train.ts modelSection). */
export interface ModelSection {
  holdout_days: number
  validation_days: number
  n_estimators: number
  max_depth: number
  min_samples_leaf: number
  max_features: number
  max_samples: number
  workers: number
  seed: number
}

export function modelSectionOf(params: Params): ModelSection {
  return params.model as ModelSection
}

/** params.yaml's model section as trainForest parameters (as rps train builds them). */
export function forestParamsOf(params: Params): ForestParams {
  const m = modelSectionOf(params)
  return {
    nEstimators: m.n_estimators, maxDepth: m.max_depth, minSamplesLeaf: m.min_samples_leaf,
    maxFeatures: m.max_features, maxSamples: m.max_samples, workers: m.workers, seed: m.seed,
  }
}

/** Writes feature columns (model order) plus the label `y` to parquet, for the Python references. */
export function writeMatrix(path: string, rows: ModelRows, features: string[]): void {
  const columns: Record<string, pl.Series> = {}
  features.forEach((f, j) => {
    columns[f] = pl.Series(f, rows.X.map((r) => r[j]!), pl.Float64)
  })
  columns.y = pl.Series('y', rows.y, pl.Float64)
  pl.DataFrame(columns).writeParquet(path)
}
