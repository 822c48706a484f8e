import {RandomForestRegression} from 'ml-random-forest'

export interface ForestParams {
  nEstimators: number
  maxDepth: number
  minSamplesLeaf: number
  /** Fraction of features each tree sees (ml-random-forest bags features per tree). */
  maxFeatures: number
  /** Rows drawn with replacement for each tree. */
  maxSamples: number
  workers: number
  seed: number
}

/** Serialized ml-random-forest regression model (RandomForestRegression#toJSON). */
export interface ForestJson {
  name: 'RFRegression'
  selectionMethod: string
  baseModel: {estimators: unknown[]; indexes: number[][]; nEstimators: number; [key: string]: unknown}
}

/** mulberry32: a small, fast, seedable PRNG so training is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Trains one tree as a one-estimator ml-random-forest on its own bootstrap sample of
 * `maxSamples` rows. ml-cart's split search is quadratic in rows, so the sample size bounds the
 * cost per tree; drawing a fresh random sample per tree keeps the ensemble diverse. (The
 * library's own `maxSamples` takes the first rows, which on time-ordered data would be the
 * oldest ones.)
 */
export function trainTree(X: number[][], y: number[], params: ForestParams, treeSeed: number, cumulativeWeights?: Float64Array): ForestJson {
  const random = seededRandom(treeSeed)
  const rows = Math.min(params.maxSamples, X.length)
  const draw = cumulativeWeights ? (u: number) => weightedIndex(cumulativeWeights, u) : (u: number) => Math.floor(u * X.length)
  const sampleX: number[][] = new Array(rows)
  const sampleY: number[] = new Array(rows)
  for (let i = 0; i < rows; i++) {
    const r = draw(random())
    sampleX[i] = X[r]!
    sampleY[i] = y[r]!
  }
  const forest = new RandomForestRegression({
    nEstimators: 1,
    maxFeatures: params.maxFeatures >= 1 ? 1.0 : params.maxFeatures,
    replacement: false,
    seed: treeSeed,
    useSampleBagging: false,
    noOOB: true,
    treeOptions: {maxDepth: params.maxDepth, minNumSamples: params.minSamplesLeaf},
  })
  forest.train(sampleX, sampleY)
  return forest.toJSON() as unknown as ForestJson
}

/** Running sums of row weights, normalized to end at 1: the bootstrap draws row i with probability w_i / Σw. */
export function cumulativeWeights(weights: number[]): Float64Array {
  const out = new Float64Array(weights.length)
  let total = 0
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!
    if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`row weight ${i} is ${w}: weights must be finite and >= 0`)
    total += w
    out[i] = total
  }
  if (!(total > 0)) throw new Error('row weights sum to 0')
  for (let i = 0; i < out.length; i++) out[i]! /= total
  return out
}

/** The first index whose cumulative weight exceeds u (u in [0, 1)). */
export function weightedIndex(cumulative: Float64Array, u: number): number {
  let lo = 0
  let hi = cumulative.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cumulative[mid]! > u) hi = mid
    else lo = mid + 1
  }
  return lo
}

/**
 * Recency weights for rows at `times`: 0.5^(age / halfLife), age measured from the newest row.
 * A half-life of 0 (or less) means equal weights.
 */
export function recencyWeights(times: number[], halfLifeDays: number): number[] | undefined {
  if (!(halfLifeDays > 0) || times.length === 0) return undefined
  const newest = times.at(-1)!
  const halfLifeMs = halfLifeDays * 86_400_000
  return times.map((t) => 0.5 ** ((newest - t) / halfLifeMs))
}

/** Joins one-tree forests into one ml-random-forest model (estimators and their feature indexes). */
export function mergeForests(parts: ForestJson[]): ForestJson {
  const first = parts[0]
  if (!first) throw new Error('no trees to merge')
  return {
    ...first,
    baseModel: {
      ...first.baseModel,
      estimators: parts.flatMap((p) => p.baseModel.estimators),
      indexes: parts.flatMap((p) => p.baseModel.indexes),
      nEstimators: parts.reduce((n, p) => n + p.baseModel.nEstimators, 0),
    },
  }
}

export function treeSeeds(params: ForestParams): number[] {
  const random = seededRandom(params.seed)
  return Array.from({length: params.nEstimators}, () => Math.floor(random() * 2 ** 31))
}
