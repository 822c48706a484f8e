import type {Params} from '../config/params.js'
import type {ForestParams} from '../forest/forest-core.js'

/** params.yaml `model` (validated by schemas/params.schema.json). Kept free of heavy imports: serve and drift read it too. */
export interface ModelSection {
  registered_name: string
  experiment: string
  holdout_days: number
  validation_days: number
  /** Train on the newest this-many days before validation only (0 = all history): the sliding window. */
  train_window_days?: number
  /** Bootstrap rows with weight 0.5^(age / half-life) (0 = equal weights): recency weighting. */
  recency_half_life_days?: number
  n_estimators: number
  max_depth: number
  min_samples_leaf: number
  max_features: number
  max_samples: number
  workers: number
  seed: number
}

export function modelSection(params: Params): ModelSection {
  return params.model as ModelSection
}

/** The section's hyperparameters as trainForest takes them. */
export function forestParams(section: ModelSection): ForestParams {
  return {
    nEstimators: section.n_estimators, maxDepth: section.max_depth, minSamplesLeaf: section.min_samples_leaf,
    maxFeatures: section.max_features, maxSamples: section.max_samples, workers: section.workers, seed: section.seed,
    rules: 'sklearn',
  }
}
